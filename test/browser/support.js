'use strict';
// Support for the browser suite: the PACKED package installed into a fresh Node-RED userDir, a real
// Node-RED 4 (the devDependency) on a free 127.0.0.1 port, the Runware simulator in-process, and
// Debian's Chromium driven by playwright-core (which never downloads a browser itself).
const { spawn, execFile } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const http = require('http');

const ROOT = path.resolve(__dirname, '..', '..');
const CHROMIUM = process.env.OVI_CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const PKG = require(path.join(ROOT, 'package.json'));
const KEY = 'sim-key-browser-0123456789';

function run(cmd, args, opts) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024, ...opts }, (err, stdout, stderr) => {
      if (err) {
        err.message += '\n' + stdout + '\n' + stderr;
        reject(err);
      } else resolve({ stdout, stderr });
    });
  });
}

function npmCli() {
  // the npm that came with this node, run by this node (no PATH surprises in CI)
  const candidates = [
    process.env.npm_execpath,
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
    path.join(path.dirname(process.execPath), 'node_modules', 'npm', 'bin', 'npm-cli.js'),
  ].filter((p) => p && /npm-cli\.js$/.test(p) && fs.existsSync(p));
  return candidates[0] ? { cmd: process.execPath, pre: [candidates[0]] } : { cmd: process.platform === 'win32' ? 'npm.cmd' : 'npm', pre: [] };
}
function npm(args, cwd) {
  const { cmd, pre } = npmCli();
  const env = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
  delete env.npm_config_nodedir;
  return run(cmd, pre.concat(args), { cwd, env });
}

function mkTemp(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** `npm pack` the working tree (its dist/ must be built) and install the tarball into a fresh userDir. */
async function installPackedPackage() {
  for (const f of Object.values(PKG['node-red'].nodes)) {
    if (!fs.existsSync(path.join(ROOT, f))) throw new Error(f + ' is missing: run `node scripts/build.js` first');
  }
  if (!fs.existsSync(path.join(ROOT, 'resources', 'ovi-fields.js'))) throw new Error('resources/ovi-fields.js is missing: run `node scripts/build.js` first');
  const packDir = mkTemp('ovi-browser-pack-');
  const userDir = mkTemp('ovi-browser-userdir-');
  try {
    const { stdout } = await npm(['pack', '--json', '--pack-destination', packDir], ROOT);
    const info = JSON.parse(stdout.slice(stdout.indexOf('[')));
    const tgz = path.join(packDir, info[0].filename);
    fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'ovi-browser-userdir', version: '0.0.0', private: true }));
    await npm(['install', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error', tgz], userDir);
    const installed = path.join(userDir, 'node_modules', PKG.name);
    if (!fs.existsSync(path.join(installed, 'package.json'))) throw new Error('the packed package did not install into ' + userDir);
    return { tgz, packDir, userDir, installed };
  } catch (e) {
    for (const dir of [packDir, userDir]) fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/** One example flow on its own tab, as scripts/start.js lays them out. */
function exampleFlow(file) {
  const nodes = JSON.parse(fs.readFileSync(path.join(ROOT, 'examples', file), 'utf8'));
  const tab = {
    id: 'tab.example',
    type: 'tab',
    label: file
      .replace(/^\d+-/, '')
      .replace(/\.json$/, '')
      .replace(/-/g, ' '),
  };
  return [tab].concat(nodes.map((n) => (!('x' in n) && !('wires' in n) ? n : { ...n, z: tab.id })));
}

function get(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.setTimeout(10000, () => req.destroy(new Error('timeout: ' + url)));
  });
}

/**
 * The whole stack: packed package in a fresh userDir, simulator, Node-RED. `flows` go to flows.json;
 * `settings` are merged over the defaults below (e.g. adminAuth).
 * Returns {url, sim, userDir, logs(), stop()}.
 */
async function startStack({ flows = [], renderMs = 1500, settings: extraSettings = {} } = {}) {
  const installed = await installPackedPackage();
  const { userDir } = installed;
  const cleanup = () => {
    for (const dir of [userDir, installed.packDir]) fs.rmSync(dir, { recursive: true, force: true });
  };
  let sim;
  try {
    const { createSimulator } = require(path.join(installed.installed, 'dist', 'simulator', 'server.js'));
    sim = await createSimulator({ apiKeys: [KEY], renderMs });
  } catch (e) {
    cleanup();
    throw e;
  }
  const port = await freePort();
  const url = 'http://127.0.0.1:' + port + '/';
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flows, null, 2));
  const settingsFile = path.join(userDir, 'settings.js');
  const settings = {
    uiPort: port,
    uiHost: '127.0.0.1',
    userDir,
    flowFile: 'flows.json',
    credentialSecret: 'ovi-browser-test',
    httpNodeRoot: '/',
    editorTheme: { tours: false, projects: { enabled: false }, palette: { catalogues: [] } },
    telemetry: { enabled: false },
    diagnostics: { enabled: false },
    logging: { console: { level: 'info', metrics: false, audit: false } },
    ...extraSettings,
  };
  fs.writeFileSync(settingsFile, 'module.exports = ' + JSON.stringify(settings, null, 2) + ';\n');
  const env = { ...process.env, RUNWARE_ENDPOINT: sim.url, RUNWARE_API_KEY: KEY, OVI_PUBLIC_URL: 'http://127.0.0.1:' + port, NODE_RED_ENABLE_PROJECTS: '' };
  const redJs = require.resolve('node-red/red.js', { paths: [ROOT] });
  const red = spawn(process.execPath, [redJs, '-u', userDir, '-s', settingsFile, '-p', String(port)], { cwd: userDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  red.stdout.on('data', (c) => (log += c));
  red.stderr.on('data', (c) => (log += c));
  const exited = new Promise((resolve) => red.on('exit', (code, signal) => resolve({ code, signal })));

  const deadline = Date.now() + 90000;
  for (;;) {
    const done = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 250))]);
    let failure = null;
    if (done) failure = 'Node-RED exited early';
    else if (/Started flows/.test(log)) {
      const res = await get(url + 'settings').catch(() => null);
      // with adminAuth the admin API answers 401 to a request without a token: it is up
      if (res && (res.status === 200 || (extraSettings.adminAuth && res.status === 401))) break;
    }
    if (!failure && Date.now() > deadline) failure = 'Node-RED did not start in 90 s';
    if (failure) {
      if (!done) {
        red.kill('SIGKILL');
        await exited;
      }
      await sim.close().catch(() => {});
      cleanup();
      throw new Error(failure + ':\n' + log);
    }
  }

  async function stop() {
    if (red.exitCode === null && red.signalCode === null) {
      red.kill('SIGINT');
      const t = setTimeout(() => red.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(t);
    }
    await sim.close().catch(() => {});
    cleanup();
  }
  return { url, port, sim, key: KEY, userDir, red, logs: () => log, stop };
}

/** Debian's Chromium with a fresh profile; playwright-core only drives it. */
async function launchBrowser() {
  const { chromium } = require('playwright-core');
  const profile = mkTemp('ovi-browser-chromium-');
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
      viewport: { width: 1440, height: 900 },
      locale: 'en-US',
      timeout: 60000,
    });
  } catch (e) {
    fs.rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  context.setDefaultTimeout(20000);
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

module.exports = { ROOT, CHROMIUM, ARTIFACTS, KEY, get, freePort, exampleFlow, installPackedPackage, startStack, launchBrowser };
