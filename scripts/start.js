#!/usr/bin/env node
// npm start: the product on this machine. A local Node-RED (the devDependency) with this package
// installed and every example flow loaded (one tab each, one shared Runware account), the embedded
// Runware simulator unless RUNWARE_API_KEY is set, and an embedded MQTT broker (aedes, 127.0.0.1)
// for the doorbell example unless MQTT_BROKER is set. The userDir is .userdir/ (gitignored); delete
// it to start from the examples again.
//
// startProduct() is the same start for tests (test/start.test.js): free ports, a temp userDir, the
// output kept instead of printed.
'use strict';
const { spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const net = require('net');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const MODULE = require(path.join(ROOT, 'package.json')).name;
const SIM_KEY = 'sim-key';
/** The examples' account, shared by all tabs under npm start (example 01's config node id). */
const SHARED_ACCOUNT = 'ovi.cfg';

const isConfigNode = (n) => !('x' in n) && !('wires' in n);

/**
 * Every example on its own tab, in file order. Each example file brings its own Runware account
 * config node (so importing two of them in the editor never conflicts); here they become one: the
 * first ovi-config node, which every ovi node points at. Other config nodes are kept once by id.
 * File paths under /media (Home Assistant's media folder) become media/ in the userDir.
 */
function exampleFlows(root = ROOT) {
  const dir = path.join(root, 'examples');
  const seen = new Set();
  const flows = [];
  let account = null;
  for (const file of fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const nodes = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    const tab = {
      id: 'tab.' + file.replace(/\.json$/, ''),
      type: 'tab',
      label: file
        .replace(/^\d+-/, '')
        .replace(/\.json$/, '')
        .replace(/-/g, ' '),
    };
    flows.push(tab);
    const accounts = new Set(nodes.filter((n) => n.type === 'ovi-config').map((n) => n.id));
    for (const n of nodes) {
      if (n.type === 'ovi-config') {
        if (account) continue;
        account = { ...n, id: SHARED_ACCOUNT };
        flows.push(account);
        continue;
      }
      if (seen.has(n.id)) continue;
      seen.add(n.id);
      const node = isConfigNode(n) ? { ...n } : { ...n, z: tab.id };
      if (typeof node.config === 'string' && accounts.has(node.config)) node.config = SHARED_ACCOUNT;
      if (typeof node.filePath === 'string' && node.filePath.startsWith('/media/')) node.filePath = node.filePath.slice(1);
      flows.push(node);
    }
  }
  return flows;
}

/**
 * flows_cred.json holding no credentials, encrypted as Node-RED does (aes-256-ctr, key sha256 of
 * credentialSecret): a first start then says nothing about "encrypted credentials not found".
 */
function emptyCredentials(secret) {
  const key = crypto.createHash('sha256').update(secret).digest();
  const iv = crypto.randomBytes(16);
  const cipher = crypto.createCipheriv('aes-256-ctr', key, iv);
  return { $: iv.toString('hex') + cipher.update('{}', 'utf8', 'base64') + cipher.final('base64') };
}

function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    const onError = (e) => reject(e);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address().port);
    });
  });
}

/** An MQTT broker (aedes, in memory, no login) on host:port, or on a free port when that one is taken. */
async function startBroker({ host = '127.0.0.1', port = 1883 } = {}) {
  const { Aedes } = await import('aedes');
  const aedes = await Aedes.createBroker();
  const server = net.createServer(aedes.handle);
  let bound;
  try {
    bound = await listen(server, port, host);
  } catch (e) {
    if (e.code !== 'EADDRINUSE' || port === 0) throw e;
    bound = await listen(server, 0, host);
  }
  return {
    host,
    port: bound,
    url: 'mqtt://' + host + ':' + bound,
    close: () =>
      new Promise((resolve) => {
        const t = setTimeout(resolve, 3000);
        server.close();
        aedes.close(() => {
          clearTimeout(t);
          resolve();
        });
      }),
  };
}

/** The Runware simulator on `port`, or on a free port when that one is taken. */
async function startSimulator({ port = 8787, key = SIM_KEY, renderMs = 4000, root = ROOT } = {}) {
  const { createSimulator } = require(path.join(root, 'dist', 'simulator', 'server.js'));
  try {
    return await createSimulator({ port, apiKeys: [key], renderMs });
  } catch (e) {
    if (port === 0) throw e;
    return createSimulator({ port: 0, apiKeys: [key], renderMs });
  }
}

/**
 * Start the product: simulator (no RUNWARE_API_KEY in env), MQTT broker (no MQTT_BROKER in env),
 * Node-RED with this package linked into userDir and the examples in flows.json (written when
 * missing). Resolves once the flows have started.
 *
 * Options: port (Node-RED, 0 = a free one), host, userDir, simPort, mqttPort (0 = free ones),
 * renderMs (simulated render time), env (default process.env), echo (print Node-RED's output),
 * nodeArgs (extra node options for Node-RED, e.g. a --require), startTimeoutMs.
 * Returns { url, userDir, runware: {endpoint, key (the simulator's only), simulated}, broker:
 * {url, host, port, embedded} , camera, log(), stop(), exited }.
 */
async function startProduct({
  root = ROOT,
  port = 1880,
  host = '127.0.0.1',
  userDir = path.join(ROOT, '.userdir'),
  simPort = 8787,
  mqttPort = 1883,
  renderMs = 4000,
  env: baseEnv = process.env,
  echo = false,
  nodeArgs = [],
  startTimeoutMs = 90000,
} = {}) {
  if (!port) port = await freePort(host === '0.0.0.0' ? '127.0.0.1' : host);
  fs.mkdirSync(path.join(userDir, 'node_modules'), { recursive: true });
  const link = path.join(userDir, 'node_modules', MODULE);
  fs.rmSync(link, { recursive: true, force: true });
  fs.symlinkSync(root, link, 'dir');

  const env = { ...baseEnv };
  const closers = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => {});
  };
  const local = 'http://' + (host === '0.0.0.0' ? '127.0.0.1' : host) + ':' + port;
  let runware;
  let broker;
  try {
    if (!env.RUNWARE_API_KEY) {
      const sim = await startSimulator({ port: simPort, renderMs, root });
      closers.push(() => sim.close());
      env.RUNWARE_API_KEY = SIM_KEY;
      env.RUNWARE_ENDPOINT = sim.url;
      // The image-to-video and doorbell examples fetch their camera snapshot from CAMERA_URL.
      env.CAMERA_URL = env.CAMERA_URL || sim.baseUrl + '/samples/snapshot.jpg';
      runware = { endpoint: sim.url, key: SIM_KEY, simulated: true };
    } else {
      runware = { endpoint: env.RUNWARE_ENDPOINT || 'https://api.runware.ai/v1', simulated: false };
    }
    if (!env.MQTT_BROKER) {
      const b = await startBroker({ host: '127.0.0.1', port: mqttPort });
      closers.push(() => b.close());
      env.MQTT_BROKER = b.host;
      env.MQTT_PORT = String(b.port);
      broker = { url: b.url, host: b.host, port: b.port, embedded: true };
    } else {
      const p = env.MQTT_PORT || '1883';
      broker = { url: 'mqtt://' + env.MQTT_BROKER + ':' + p, host: env.MQTT_BROKER, port: Number(p), embedded: false };
    }
  } catch (e) {
    await closeAll();
    throw e;
  }
  env.OVI_PUBLIC_URL = env.OVI_PUBLIC_URL || local;

  const credentialSecret = 'ovi-local-dev';
  const flowFile = path.join(userDir, 'flows.json');
  if (!fs.existsSync(flowFile)) {
    fs.writeFileSync(flowFile, JSON.stringify(exampleFlows(root), null, 2));
    fs.writeFileSync(path.join(userDir, 'flows_cred.json'), JSON.stringify(emptyCredentials(credentialSecret)));
  }
  const settingsFile = path.join(userDir, 'settings.js');
  fs.writeFileSync(
    settingsFile,
    '// written by scripts/start.js\nmodule.exports = ' +
      JSON.stringify(
        {
          uiPort: port,
          uiHost: host,
          flowFile: 'flows.json',
          credentialSecret,
          httpNodeRoot: '/',
          editorTheme: { tours: false },
          telemetry: { enabled: false },
          diagnostics: { enabled: false },
        },
        null,
        2,
      ) +
      ';\n',
  );

  const redJs = require.resolve('node-red/red.js', { paths: [root] });
  const red = spawn(process.execPath, [...nodeArgs, redJs, '--userDir', userDir, '--settings', settingsFile], {
    cwd: userDir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  red.stdout.on('data', (chunk) => {
    output += chunk;
    if (echo) process.stdout.write(chunk);
  });
  red.stderr.on('data', (chunk) => {
    output += chunk;
    if (echo) process.stderr.write(chunk);
  });
  const exited = new Promise((resolve) => red.on('exit', (code, signal) => resolve({ code, signal })));
  let stopping = null;
  const stop = () =>
    (stopping ??= (async () => {
      if (red.exitCode === null && red.signalCode === null) {
        red.kill('SIGINT');
        const t = setTimeout(() => red.kill('SIGKILL'), 10000);
        await exited;
        clearTimeout(t);
      }
      await closeAll();
    })());

  const deadline = Date.now() + startTimeoutMs;
  while (!/Started flows/.test(output)) {
    const gone = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 200))]);
    if (gone || Date.now() > deadline) {
      await stop();
      throw new Error(
        (gone ? 'Node-RED exited during start-up' : 'Node-RED did not start within ' + startTimeoutMs / 1000 + ' s') + ':\n' + output.slice(-4000),
      );
    }
  }
  return { url: local + '/', userDir, runware, broker, camera: env.CAMERA_URL || '', log: () => output, stop, exited };
}

/** What npm start prints once the flows run: where everything is, and how to use a real key. */
function banner(p, { userDirLabel = '.userdir' } = {}) {
  const lines = ['', '  Ovi for Node-RED is running. Stop it with Ctrl+C.', ''];
  lines.push('  Editor    ' + p.url + '   one tab per example: click an inject button, watch the debug sidebar');
  if (p.runware.simulated) {
    lines.push('  Runware   simulator ' + p.runware.endpoint + '   API key: ' + p.runware.key + '   (sample clips, nothing is billed)');
    lines.push('            real Runware: RUNWARE_API_KEY=<your key> npm start');
  } else {
    lines.push('  Runware   ' + p.runware.endpoint + ' with the key in RUNWARE_API_KEY   (real generations, billed by Runware)');
  }
  if (p.broker.embedded) lines.push('  MQTT      broker ' + p.broker.url + ' (embedded, no login)   ring the doorbell: publish anything to doorbell/ring');
  else lines.push('  MQTT      broker ' + p.broker.url + ' (from MQTT_BROKER / MQTT_PORT)');
  if (p.broker.embedded) lines.push('            npx mqtt pub -h ' + p.broker.host + ' -p ' + p.broker.port + ' -t doorbell/ring -m ring');
  lines.push('  Camera    ' + (p.camera ? 'CAMERA_URL=' + p.camera : 'CAMERA_URL is not set: the image-to-video and doorbell examples will ask for it'));
  lines.push('  Files     ' + userDirLabel + '/media/ovi/ (the doorbell clips); delete ' + userDirLabel + '/ to start again from the examples');
  lines.push('');
  return lines.join('\n');
}

async function main() {
  const env = process.env;
  const userDir = env.OVI_USERDIR || path.join(ROOT, '.userdir');
  const product = await startProduct({
    port: Number(env.PORT || 1880),
    host: env.HOST || '127.0.0.1',
    userDir,
    simPort: Number(env.SIM_PORT || 8787),
    mqttPort: Number(env.MQTT_PORT || 1883),
    echo: true,
  });
  const rel = path.relative(process.cwd(), userDir);
  console.log(banner(product, { userDirLabel: rel && !rel.startsWith('..') ? rel : userDir }));
  const stop = () => product.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  product.exited.then(({ code }) => product.stop().then(() => process.exit(code ?? 0)));
}

module.exports = { startProduct, exampleFlows, startBroker, banner, SHARED_ACCOUNT };

if (require.main === module) {
  main().catch((e) => {
    console.error(e && e.message ? e.message : e);
    process.exit(1);
  });
}
