#!/usr/bin/env node
'use strict';
// Webhook load generator, run as a child process (its CPU is not Node-RED's): POSTs result items the
// way Runware delivers webhooks — one JSON item per request, Content-Type application/json, the token
// in the query string — over keep-alive connections to 127.0.0.1 only. Every body is unique (taskUUID
// and videoUUID), so no receiver can short-circuit on a repeat. Bounded by time and by count.
// argv[2]: JSON {url, concurrency, warmupMs, durationMs, maxCount, seed}
// stdout: one JSON line {count, total, totalOk, errors, statuses, elapsedMs, rps, p50Ms, p99Ms}
const http = require('http');

const cfg = JSON.parse(process.argv[2]);
const target = new URL(cfg.url);
if (target.hostname !== '127.0.0.1') throw new Error('loadgen: 127.0.0.1 only');
const agent = new http.Agent({ keepAlive: true, maxSockets: cfg.concurrency });

let n = (cfg.seed || 1) * 1e7;
function uuid(prefix) {
  const hex = (n++).toString(16).padStart(12, '0');
  return prefix + '-0000-4000-8000-' + hex;
}
function body() {
  const taskUUID = uuid('7a5b0c1d');
  const videoUUID = uuid('9e8f7a6b');
  return JSON.stringify({
    taskType: 'videoInference',
    taskUUID,
    status: 'success',
    videoUUID,
    videoURL: 'http://127.0.0.1:9/media/' + videoUUID + '.mp4',
    seed: 1234567,
    cost: 0.0437,
  });
}

function post() {
  return new Promise((resolve) => {
    const data = body();
    const t0 = process.hrtime.bigint();
    const req = http.request(
      {
        host: '127.0.0.1',
        port: target.port,
        path: target.pathname + target.search,
        method: 'POST',
        agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
      },
    );
    req.on('error', () => resolve({ status: 0, ms: 0 }));
    req.end(data);
  });
}

async function main() {
  const start = Date.now();
  const measureFrom = start + (cfg.warmupMs || 0);
  const endAt = measureFrom + cfg.durationMs;
  let count = 0;
  let total = 0; // warm-up included
  let totalOk = 0;
  let errors = 0;
  const statuses = {};
  const lat = [];
  let t0 = null;
  let t1 = null;
  async function worker() {
    while (Date.now() < endAt && count < cfg.maxCount) {
      const r = await post();
      total++;
      if (r.status === 200) totalOk++;
      const now = Date.now();
      if (now < measureFrom) continue;
      if (t0 === null) t0 = measureFrom;
      t1 = now;
      count++;
      statuses[r.status] = (statuses[r.status] || 0) + 1;
      if (r.status !== 200) errors++;
      if (lat.length < 200000) lat.push(r.ms);
    }
  }
  // Workers start together; the measured window begins after the warm-up.
  await Promise.all(Array.from({ length: cfg.concurrency }, worker));
  agent.destroy();
  lat.sort((a, b) => a - b);
  const q = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : 0);
  const elapsedMs = t0 === null ? 0 : Math.max(1, t1 - t0);
  process.stdout.write(
    JSON.stringify({ count, total, totalOk, errors, statuses, elapsedMs, rps: elapsedMs ? (count / elapsedMs) * 1000 : 0, p50Ms: q(0.5), p99Ms: q(0.99) }) +
      '\n',
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
