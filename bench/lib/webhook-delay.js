'use strict';
// The webhook path's own delay: from the moment a result POST leaves for Node-RED to the msg out of
// ovi webhook, for tasks this account submitted (correlated, as in real use). The bench posts the
// results itself, paced like results finishing one after another, so both ends are read on one clock.
const http = require('http');
const { randomUUID } = require('crypto');
const { performance } = require('perf_hooks');
const flows = require('./flows');

const clock = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function webhookDelay(ctx, { n, gapMs }) {
  const { nr, sim, uid, waitFor, prompt } = ctx;
  await sim.configure({ webhooks: false, renderMs: 3600000 }); // Runware stays silent: the bench posts
  const p = uid();
  const hookPath = '/bench/hook-delay-' + p;
  await nr.deploy(flows.oursWebhook(p, sim.url, nr.url, hookPath));
  const acked = [];
  const out = new Map();
  let errors = 0;
  nr.getNode(p + '.acks').on('input', (m) => acked.push(m.taskUUID));
  nr.getNode(p + '.sink').on('input', (m) => out.set(m.payload.videoUUID, clock()));
  nr.getNode(p + '.errors').on('input', () => errors++);
  const submit = nr.getNode(p + '.submit');
  for (let i = 0; i < n; i++) submit.receive({ payload: prompt, topic: 'bench', seq: i });
  await waitFor(
    () => acked.length + errors >= n,
    60000,
    () => 'webhook delay: ' + acked.length + '/' + n + ' acknowledged',
  );
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const url = new URL(nr.url + hookPath + '?token=' + encodeURIComponent(flows.WEBHOOK_TOKEN));
  const sent = new Map();
  const statuses = {};
  const pending = [];
  for (let i = 0; i < acked.length; i++) {
    const videoUUID = randomUUID();
    const body = JSON.stringify({
      taskType: 'videoInference',
      taskUUID: acked[i],
      status: 'success',
      videoUUID,
      videoURL: sim.baseUrl + '/media/' + videoUUID + '.mp4',
      seed: i,
    });
    sent.set(videoUUID, clock());
    pending.push(
      new Promise((resolve) => {
        const req = http.request(
          url,
          { method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
          (res) => {
            statuses[res.statusCode] = (statuses[res.statusCode] || 0) + 1;
            res.resume();
            res.on('end', resolve);
          },
        );
        req.on('error', (e) => {
          statuses[e.code || 'error'] = (statuses[e.code || 'error'] || 0) + 1;
          resolve();
        });
        req.end(body);
      }),
    );
    await sleep(gapMs);
  }
  await Promise.all(pending);
  await waitFor(
    () => out.size >= sent.size,
    10000,
    () => 'webhook delay: ' + out.size + '/' + sent.size + ' msgs out',
  ).catch(() => {});
  agent.destroy();
  await nr.clear();
  await sim.configure({ webhooks: true });
  const delays = [];
  for (const [v, t0] of sent) if (out.has(v)) delays.push(out.get(v) - t0);
  return { posted: sent.size, emitted: delays.length, errors, statuses, delaysMs: delays };
}

module.exports = { webhookDelay };
