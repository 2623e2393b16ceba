'use strict';
// Shared by the journal reliability tests: an independent reading of the journal format (so the
// store is checked against something it did not compute), record framing, test images, and flows
// that only resume (one tab per journal, so a Catch node sees only its own account's failures).
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');
const zlib = require('zlib');
const { collectorPost } = require('../support/real-node-red');

/** One record framed as format 2 writes it: crc32 of the JSON bytes, 8 hex digits, a space, the JSON. */
function framed(record) {
  const json = Buffer.from(JSON.stringify(record));
  return (zlib.crc32(json) >>> 0).toString(16).padStart(8, '0') + ' ' + json.toString() + '\n';
}

/**
 * The journal as the format says it should read, written without the code under test: lines with
 * their byte ranges and records, and the state after the complete ones (ops applied in order).
 * Throws on anything a journal we wrote must not contain.
 */
function model(buf) {
  const lines = [];
  for (let start = 0; start < buf.length;) {
    const nl = buf.indexOf(0x0a, start);
    if (nl === -1) {
      lines.push({ start, end: buf.length, torn: true });
      break;
    }
    lines.push({ start, end: nl });
    start = nl + 1;
  }
  const jobs = new Map();
  let costTotal = 0;
  for (const l of lines) {
    if (l.torn) continue;
    const text = buf.subarray(l.start, l.end);
    const crc = text.toString('latin1', 0, 8);
    const json = text.subarray(9);
    if ((zlib.crc32(json) >>> 0).toString(16).padStart(8, '0') !== crc) throw new Error('the intact journal has a bad checksum at byte ' + l.start);
    const rec = JSON.parse(json.toString('utf8'));
    l.rec = rec;
    l.uuid = rec.op === 'put' ? rec.job.taskUUID : rec.op === 'del' ? rec.taskUUID : undefined;
    if (rec.op === 'put') jobs.set(rec.job.taskUUID, rec.job);
    else if (rec.op === 'del') jobs.delete(rec.taskUUID);
    else if (rec.op === 'cost') costTotal = rec.total;
  }
  return { lines, jobs, costTotal };
}

/** A job as the model holds it (side files as references) and as a store loads it (side files read), compared. */
function norm(job) {
  if (!job) return undefined;
  const out = { ...job };
  if (out.wireRef) out.wire = 'crc:' + out.wireRef.crc;
  else if (typeof out.wire === 'string') out.wire = 'crc:' + (zlib.crc32(Buffer.from(out.wire)) >>> 0).toString(16).padStart(8, '0');
  if (out.msgRef) out.msg = 'crc:' + out.msgRef.crc;
  else if (out.msg && JSON.stringify(out.msg).length > 4096)
    out.msg = 'crc:' + (zlib.crc32(Buffer.from(JSON.stringify(out.msg))) >>> 0).toString(16).padStart(8, '0');
  delete out.wireRef;
  delete out.msgRef;
  return JSON.stringify(
    Object.keys(out)
      .sort()
      .map((k) => [k, out[k]]),
  );
}

/** A PNG signature and header chunk in front of `bytes` random bytes: passes the magic-byte check. */
function pngOf(bytes) {
  const head = Buffer.from('89504e470d0a1a0a0000000d49484452000000200000002008020000', 'hex');
  return Buffer.concat([head, crypto.randomBytes(Math.max(0, bytes - head.length))]);
}

/** A copy of a journal (and its side directory) under another config id's names in `ovi`. */
function installJournal(fromFile, ovi, configId, { bytes } = {}) {
  fs.mkdirSync(ovi, { recursive: true, mode: 0o700 });
  const to = path.join(ovi, 'jobs-' + configId + '.json');
  fs.writeFileSync(to, bytes !== undefined ? bytes : fs.readFileSync(fromFile), { mode: 0o600 });
  const side = fromFile.replace(/\.json$/, '.side');
  if (fs.existsSync(side)) fs.cpSync(side, to.replace(/\.json$/, '.side'), { recursive: true });
  return to;
}

/**
 * A tab that only resumes what a journal holds: an ovi-config (its id names the journal), an ovi poll
 * whose results go to <collector>/result/<id>, a Catch whose msg.error goes to <collector>/error/<id>.
 */
function resumeFlow(id, { endpoint, collectorUrl, maxConcurrent = 3 }) {
  const z = id + '.tab';
  return [
    { id: z, type: 'tab', label: id, disabled: false, info: '' },
    { id: id + '.cfg', type: 'ovi-config', name: id, endpoint, publicUrl: '', timeout: '10', maxConcurrent: String(maxConcurrent), retries: '4', store: '' },
    {
      id: id + '.poll',
      type: 'ovi-poll',
      z,
      name: '',
      config: id + '.cfg',
      initialDelay: '1',
      maxInterval: '1',
      timeout: '600',
      x: 300,
      y: 100,
      wires: [[id + '.result']],
    },
    collectorPost({ id: id + '.result', z, url: collectorUrl + '/result/' + id, name: 'result', y: 100 }),
    { id: id + '.catch', type: 'catch', z, name: '', scope: null, uncaught: false, x: 100, y: 200, wires: [[id + '.errpayload']] },
    {
      id: id + '.errpayload',
      type: 'change',
      z,
      name: '',
      rules: [
        { t: 'set', p: 'payload', pt: 'msg', to: 'error', tot: 'msg' },
        { t: 'set', p: 'payload.taskUUID', pt: 'msg', to: 'taskUUID', tot: 'msg' },
      ],
      action: '',
      property: '',
      from: '',
      to: '',
      reg: false,
      x: 300,
      y: 200,
      wires: [[id + '.error']],
    },
    collectorPost({ id: id + '.error', z, url: collectorUrl + '/error/' + id, name: 'error', y: 200 }),
  ];
}

/** Files under `dir` (recursively), relative. */
function filesUnder(dir) {
  const out = [];
  const walk = (d) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/**
 * A proxy in front of the simulator that, while `closed`, answers every finished result of a
 * getResponse as still processing: results then leave Node-RED only once the test opens it, so a
 * SIGKILL meant for journal writes never lands between a result's emission and its record.
 */
async function resultGate(target) {
  const t = new URL(target);
  const state = { closed: true, held: 0 };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const out = http.request({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
        const parts = [];
        up.on('data', (c) => parts.push(c));
        up.on('end', () => {
          let data = Buffer.concat(parts);
          if (state.closed && body.includes('getResponse')) {
            try {
              const env = JSON.parse(data.toString('utf8'));
              if (Array.isArray(env.data)) {
                env.data = env.data.map((item) => {
                  if (!item || !(item.videoURL || item.videoUUID)) return item;
                  state.held++;
                  return { taskType: 'videoInference', taskUUID: item.taskUUID, status: 'processing', progress: 50 };
                });
                data = Buffer.from(JSON.stringify(env));
              }
            } catch {
              // not JSON: passed on as it is
            }
          }
          const headers = { ...up.headers, 'content-length': String(data.length) };
          delete headers['transfer-encoding'];
          res.writeHead(up.statusCode, headers);
          res.end(data);
        });
      });
      out.on('error', () => {
        res.statusCode = 502;
        res.end();
      });
      out.end(body);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: 'http://127.0.0.1:' + server.address().port + t.pathname,
    state,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

module.exports = { framed, model, norm, pngOf, installJournal, resumeFlow, filesUnder, resultGate };
