'use strict';
// Shared test harness: a real Node-RED runtime (node-red-node-test-helper) with our compiled nodes,
// and the Runware simulator over real HTTP on 127.0.0.1.
const helper = require('node-red-node-test-helper');
const { createSimulator } = require('../dist/simulator/server.js');
const { parseLossless } = require('../dist/nodes/lib/lossless-json.js');

helper.init(require.resolve('node-red'));

// The test helper's RED.httpNode is an Express app mounted nowhere: capture it (the wrapper below)
// and serve it on a real 127.0.0.1 port, so webhooks arrive over real HTTP.
let httpNodeApp = null;
const webhookModule = require('../dist/nodes/ovi-webhook.js');
function webhookCapturingHttpNode(RED) {
  httpNodeApp = RED.httpNode;
  return webhookModule(RED);
}

const NODES = [
  require('../dist/nodes/ovi-config.js'),
  require('../dist/nodes/ovi-submit.js'),
  require('../dist/nodes/ovi-poll.js'),
  webhookCapturingHttpNode,
  require('@node-red/nodes/core/common/25-catch.js'),
];

/** How many routes answer `method path` on the current RED.httpNode (duplicates would be a leak). */
function routeCount(path, method = 'post') {
  const stack = (httpNodeApp && httpNodeApp._router && httpNodeApp._router.stack) || [];
  return stack.filter((l) => l.route && l.route.path === path && l.route.methods[method]).length;
}

/** A server on 127.0.0.1 that hands every request to the current flow's RED.httpNode. */
async function httpNodeServer({ adminParserFirst = false } = {}) {
  const http = require('http');
  // Node-RED's default layout (httpAdminRoot and httpNodeRoot both "/"): the admin app's JSON body
  // parser sees the request first and drains its stream.
  const adminJson = adminParserFirst ? require('body-parser').json({ limit: '5mb' }) : (req, res, next) => next();
  const server = http.createServer((req, res) => {
    if (!httpNodeApp) {
      res.statusCode = 503;
      return res.end();
    }
    adminJson(req, res, () =>
      httpNodeApp(req, res, () => {
        res.statusCode = 404;
        res.end('no route');
      }),
    );
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

const KEY = 'sim-key-0123456789';

async function startSim(opts = {}) {
  return createSimulator({ apiKeys: [KEY], renderMs: 60, ...opts });
}

/**
 * The usual suite setup: one simulator and the Node-RED test server for the whole describe, flows
 * unloaded after each test. `onSim` receives the simulator once it runs.
 */
function useHarness(onSim, simOpts = {}) {
  let sim;
  before(async () => {
    sim = await startSim(simOpts);
    onSim(sim);
    await helper.startServer();
  });
  after(async () => {
    await helper.stopServer();
    await sim.close();
  });
  afterEach(() => helper.unload());
}

function configNode(sim, extra = {}) {
  return { id: 'cfg', type: 'ovi-config', name: 'sim', endpoint: sim.url, publicUrl: '', timeout: 5, maxConcurrent: 0, retries: 4, ...extra };
}

function submitNode(props = {}) {
  return {
    id: 'submit',
    type: 'ovi-submit',
    config: 'cfg',
    positivePrompt: 'payload',
    positivePromptType: 'msg',
    image: 'image',
    imageType: 'msg',
    advancedFeatures: {},
    safety: {},
    acceleratorOptions: {},
    delivery: 'poll',
    wires: [['out']],
    ...props,
  };
}

function pollNode(props = {}) {
  return { id: 'poll', type: 'ovi-poll', config: 'cfg', initialDelay: 0.02, maxInterval: 0.05, timeout: 20, wires: [['results']], ...props };
}

/** submit → poll → results, failures of both → catch → errors. */
function pipeline(sim, { submit = {}, poll = {}, config = {} } = {}) {
  return [
    configNode(sim, config),
    submitNode({ wires: [['out', 'poll']], ...submit }),
    pollNode(poll),
    { id: 'out', type: 'helper' },
    { id: 'results', type: 'helper' },
    { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['errors']] },
    { id: 'errors', type: 'helper' },
  ];
}

/**
 * Node-RED treats a node without x/y as a config node (a Catch node would then catch nothing, and
 * Node-RED reports a "circular config node dependency"). Flow nodes need a tab (z) too.
 */
function place(flow) {
  const placed = flow.map((n, i) => (n.type === 'ovi-config' || n.type === 'tab' || 'x' in n ? n : { x: 100 + i * 10, y: 100, z: 'flow', ...n }));
  if (!placed.some((n) => n.type === 'tab')) placed.unshift({ id: 'flow', type: 'tab', label: 'test' });
  return placed;
}

async function load(flow, creds = { cfg: { apiKey: KEY } }) {
  await helper.load(NODES, place(flow), creds);
}

/** Collect msgs arriving at a helper node; `next(n)` resolves with the first n (or rejects on timeout). */
function collector(id) {
  const node = helper.getNode(id);
  const msgs = [];
  const waiters = [];
  node.on('input', (msg) => {
    msgs.push(msg);
    for (const w of [...waiters])
      if (msgs.length >= w.n) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(msgs.slice(0, w.n));
      }
  });
  return {
    msgs,
    next(n = 1, ms = 8000) {
      if (msgs.length >= n) return Promise.resolve(msgs.slice(0, n));
      return new Promise((resolve, reject) => {
        const w = { n, resolve };
        waiters.push(w);
        setTimeout(() => reject(new Error('timed out waiting for ' + n + ' msg(s) at ' + id + ', got ' + msgs.length)), ms).unref();
      });
    },
  };
}

/** The videoInference tasks the simulator received, parsed losslessly from the raw bodies. */
function submittedTasks(sim) {
  const out = [];
  for (const r of sim.requests()) {
    let body;
    try {
      body = parseLossless(r.bodyText);
    } catch {
      continue;
    }
    if (Array.isArray(body)) for (const t of body) if (t && t.taskType === 'videoInference') out.push(t);
  }
  return out;
}

function apiRequests(sim) {
  return sim.requests().filter((r) => r.method === 'POST' && (r.path === '/v1' || r.path === '/'));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function getPath(obj, path) {
  return path.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

/** A real 32x32 RGB PNG (a gradient), made here with zlib so no fixture is needed. */
const PNG_B64 = (() => {
  const zlib = require('zlib');
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const w = 32;
  const rows = [];
  for (let y = 0; y < w; y++) rows.push(Buffer.from([0, ...Array.from({ length: w }, (_, x) => [x * 8, y * 8, 160]).flat()]));
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(w, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
  return png.toString('base64');
})();

module.exports = {
  helper,
  NODES,
  httpNodeServer,
  routeCount,
  useHarness,
  KEY,
  startSim,
  configNode,
  submitNode,
  pollNode,
  pipeline,
  load,
  place,
  collector,
  submittedTasks,
  apiRequests,
  sleep,
  getPath,
  PNG_B64,
  parseLossless,
};
