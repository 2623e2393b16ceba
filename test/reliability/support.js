'use strict';
// Shared bits of the reliability suite: a seeded PRNG, a JSON view of anything (bigints, cycles,
// functions), an unhandled-rejection counter, heap measurement, a plain HTTP client, the secret
// scanner, and a real Node-RED started on a userDir where this package is linked in (as
// scripts/start.js does) — no npm, so restarts take seconds.
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const v8 = require('v8');
const vm = require('vm');
const { collectorPost } = require('../support/real-node-red');

const ROOT = path.resolve(__dirname, '..', '..');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** mulberry32: reproducible runs (print the seed; rerun with RELIABILITY_SEED=<n>). */
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)); // inclusive
  next.pick = (arr) => arr[Math.floor(next() * arr.length)];
  next.chance = (p) => next() < p;
  return next;
}

const SEED = Number(process.env.RELIABILITY_SEED || 20251125);

/** JSON text of anything a msg may hold, for scanning: never throws. */
function text(value) {
  const seen = new WeakSet();
  try {
    return (
      JSON.stringify(value, (k, v) => {
        if (typeof v === 'bigint') return v.toString() + 'n';
        if (typeof v === 'function') return '[function ' + (v.name || '') + ']';
        if (v instanceof Error) return { name: v.name, message: v.message, stack: v.stack, ...v };
        if (v && typeof v === 'object' && v.type === 'Buffer' && Array.isArray(v.data)) return '[Buffer ' + v.data.length + ']';
        if (typeof v === 'string' && v.length > 4096) return v.slice(0, 2048) + '…' + v.slice(-2048);
        if (v && typeof v === 'object') {
          if (seen.has(v)) return '[cycle]';
          seen.add(v);
        }
        return v;
      }) || String(value)
    );
  } catch (e) {
    return String(value) + ' [unserialisable: ' + e.message + ']';
  }
}

/** A string that owns its characters (a V8 slice would keep its whole parent string alive). */
const own = (s) => Buffer.from(String(s), 'utf8').toString('utf8');

/** Counts unhandled rejections while installed; `stop()` removes the listener. */
function rejectionCounter() {
  const seen = [];
  const onRejection = (reason) => seen.push(reason instanceof Error ? reason.stack : String(reason));
  process.on('unhandledRejection', onRejection);
  return {
    get count() {
      return seen.length;
    },
    seen,
    stop: () => process.off('unhandledRejection', onRejection),
  };
}

/** global.gc without --expose-gc on the mocha command line. */
let gcFn = null;
function gc() {
  if (!gcFn) {
    if (typeof global.gc === 'function') gcFn = global.gc;
    else {
      v8.setFlagsFromString('--expose_gc');
      gcFn = vm.runInNewContext('gc');
    }
  }
  gcFn();
}

async function heapUsed() {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(20);
  }
  return process.memoryUsage().heapUsed;
}

const mb = (bytes) => (bytes / 1048576).toFixed(1) + ' MB';

/** A plain HTTP request that resolves { status } or { status: 0, error } (a reset is an answer here). */
function send(url, { method = 'POST', headers = {}, body, agent, timeoutMs = 15000 } = {}) {
  return new Promise((resolve) => {
    const data = body === undefined ? undefined : Buffer.isBuffer(body) || typeof body === 'string' ? body : JSON.stringify(body);
    const h = { ...headers };
    if (data !== undefined && !('Content-Length' in h) && !('Transfer-Encoding' in h)) h['Content-Length'] = Buffer.byteLength(data);
    let settled = false;
    const done = (r) => {
      if (!settled) {
        settled = true;
        resolve(r);
      }
    };
    const req = http.request(url, { method, headers: h, agent, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (e) => done({ status: res.statusCode, error: e.code || e.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => done({ status: 0, error: e.code || e.message }));
    if (data !== undefined) req.write(data);
    req.end();
  });
}

/** Run `fn(i)` for i in [0, n) with at most `width` at once. */
async function pool(n, width, fn) {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(width, n) }, worker));
}

/**
 * Where secrets must not appear. `sources` is { name: text }; returns the names (and a snippet) of
 * those holding any secret, so an assertion message shows where the leak is.
 */
function leaks(secrets, sources) {
  const out = [];
  for (const [name, t] of Object.entries(sources)) {
    for (const s of secrets) {
      const at = t.indexOf(s);
      if (at >= 0) out.push(name + ': …' + t.slice(Math.max(0, at - 80), at + s.length + 40) + '…');
    }
  }
  return out;
}

/** Everything the test helper's Node-RED logged so far, as text (node.log/warn/error and runtime logs). */
function helperLogText(helper) {
  const spy = helper.log();
  if (!spy || !spy.args) return '';
  return spy.args.map((args) => args.map((a) => (a && typeof a === 'object' ? text(a) + ' ' + String(a.msg) : String(a))).join(' ')).join('\n');
}

/**
 * node-red-node-test-helper's sinon spies (on RED.log and on Node.prototype send/error/status/...)
 * keep every call's arguments until the next load(): after 10,000 msgs that is ~100 MB that is the
 * harness's, not the runtime's. Call after helper.unload() before measuring what the runtime keeps.
 */
function releaseHelperSpies(helper) {
  if (helper._sandbox && typeof helper._sandbox.resetHistory === 'function') helper._sandbox.resetHistory();
  if (helper._logSpy && typeof helper._logSpy.resetHistory === 'function') helper._logSpy.resetHistory();
}

/** Collect the status texts of the given nodes (node-red-node-test-helper emits call:status). */
function statusRecorder(helper, ids) {
  const texts = [];
  for (const id of ids) {
    const n = helper.getNode(id);
    if (n) n.on('call:status', (call) => texts.push(id + ': ' + text(call.args[0])));
  }
  return texts;
}

/** A table row printer: figures go to the test log, one compact line each. */
function report(title, figures) {
  const line = Object.entries(figures)
    .map(([k, v]) => k + '=' + (v && typeof v === 'object' ? JSON.stringify(v) : v))
    .join('  ');
  console.log('      [' + title + '] ' + line);
}

// ---------------------------------------------------------------- a real Node-RED

/**
 * A fresh userDir with this package linked into node_modules (the built dist/ of this checkout,
 * dependencies resolved from the repo's node_modules through the link's real path).
 */
function linkedUserDir(prefix = 'ovi-rel-') {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.mkdirSync(path.join(userDir, 'node_modules'), { recursive: true });
  fs.writeFileSync(
    path.join(userDir, 'package.json'),
    JSON.stringify({ name: 'node-red-project', version: '0.0.1', private: true, dependencies: { 'node-red-contrib-runware-ovi': '*' } }) + '\n',
  );
  fs.symlinkSync(ROOT, path.join(userDir, 'node_modules', 'node-red-contrib-runware-ovi'), 'dir');
  return userDir;
}

/** SIGKILL a Node-RED started by test/support/real-node-red.js (its process group), and wait for it. */
async function sigkill(red) {
  const child = red.child;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
  await Promise.race([exited, sleep(10000)]);
}

/**
 * A fixed address in front of a Node-RED whose port changes at each restart: Runware (the
 * simulator) keeps the webhookURL it was given, as the real one does. `target.url` is read per request.
 */
async function forwarder(target) {
  const server = http.createServer((req, res) => {
    const out = http.request(target.url + req.url, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode, up.headers);
      up.pipe(res);
    });
    out.on('error', () => {
      res.statusCode = 502;
      res.end();
    });
    req.pipe(out);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: 'http://127.0.0.1:' + server.address().port,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * A flow for the restart tests: `POST /rel/submit` (body = msg.payload, a task object with its own
 * taskUUID) → ovi submit → ovi poll → http request POSTing each result to `<collector>/result`;
 * the Catch node's msg.error goes to `<collector>/error`. The http-in answers 200 at once (a second
 * wire to http response), so queued submits do not hold the driver.
 */
function restartFlow({
  prefix = 'rel',
  endpoint,
  collectorUrl,
  apiKey,
  token,
  maxConcurrent = 0,
  pollTimeout = 600,
  delivery = 'poll',
  publicUrl = '',
  delayToPoll = 0,
}) {
  const id = (s) => prefix + '.' + s;
  const z = id('tab');
  const report = (nodeId, urlPath, y) => collectorPost({ id: nodeId, z, url: collectorUrl + urlPath, name: 'report ' + urlPath, y });
  return [
    { id: z, type: 'tab', label: 'reliability', disabled: false, info: '' },
    {
      id: id('cfg'),
      type: 'ovi-config',
      name: 'sim',
      endpoint,
      publicUrl,
      timeout: '10',
      maxConcurrent: String(maxConcurrent),
      retries: '4',
      store: '',
      ...(apiKey ? { credentials: { apiKey } } : {}),
    },
    {
      id: id('in'),
      type: 'http in',
      z,
      name: '',
      url: '/rel/submit',
      method: 'post',
      upload: false,
      swaggerDoc: '',
      x: 100,
      y: 100,
      wires: [[id('submit'), id('ok')]],
    },
    { id: id('ok'), type: 'http response', z, name: '', statusCode: '200', headers: {}, x: 300, y: 60, wires: [] },
    {
      id: id('ready'),
      type: 'http in',
      z,
      name: '',
      url: '/rel/ready/' + prefix,
      method: 'get',
      upload: false,
      swaggerDoc: '',
      x: 100,
      y: 40,
      wires: [[id('ok')]],
    },
    {
      id: id('submit'),
      type: 'ovi-submit',
      z,
      name: '',
      config: id('cfg'),
      positivePrompt: 'payload',
      positivePromptType: 'msg',
      image: 'image',
      imageType: 'msg',
      advancedFeatures: {},
      safety: {},
      acceleratorOptions: {},
      delivery,
      webhookNode: id('hook'),
      x: 300,
      y: 100,
      wires: [delivery === 'poll' ? [delayToPoll ? id('delay') : id('poll')] : []],
    },
    {
      id: id('poll'),
      type: 'ovi-poll',
      z,
      name: '',
      config: id('cfg'),
      initialDelay: '1',
      maxInterval: '1',
      timeout: String(pollTimeout),
      x: 500,
      y: 100,
      wires: [[id('result')]],
    },
    // Something between submit and poll (users put switch, change or delay nodes there): the poll
    // node claims the task a moment after the submit was acknowledged and saved.
    ...(delayToPoll
      ? [
          {
            id: id('delay'),
            type: 'delay',
            z,
            name: '',
            pauseType: 'delay',
            timeout: String(delayToPoll),
            timeoutUnits: 'milliseconds',
            rate: '1',
            nbRateUnits: '1',
            rateUnits: 'second',
            randomFirst: '1',
            randomLast: '5',
            randomUnits: 'seconds',
            drop: false,
            allowrate: false,
            outputs: 1,
            x: 400,
            y: 140,
            wires: [[id('poll')]],
          },
        ]
      : []),
    report(id('result'), '/result', 100),
    // Receives results with delivery 'webhook'; otherwise here for its token credential, which must
    // stay out of exported flows, files and logs all the same.
    {
      id: id('hook'),
      type: 'ovi-webhook',
      z,
      name: '',
      config: id('cfg'),
      path: '/rel/hook/' + prefix,
      x: 500,
      y: 300,
      wires: [[id('result')]],
      ...(token ? { credentials: { token } } : {}),
    },
    { id: id('catch'), type: 'catch', z, name: '', scope: null, uncaught: false, x: 100, y: 200, wires: [[id('errpayload')]] },
    {
      id: id('errpayload'),
      type: 'change',
      z,
      name: '',
      rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'error', tot: 'msg' }],
      action: '',
      property: '',
      from: '',
      to: '',
      reg: false,
      x: 300,
      y: 200,
      wires: [[id('error')]],
    },
    report(id('error'), '/error', 200),
  ];
}

module.exports = {
  ROOT,
  SEED,
  sleep,
  rng,
  text,
  own,
  rejectionCounter,
  gc,
  heapUsed,
  mb,
  send,
  pool,
  leaks,
  helperLogText,
  releaseHelperSpies,
  statusRecorder,
  report,
  linkedUserDir,
  sigkill,
  forwarder,
  restartFlow,
};
