'use strict';
// npm start, started the way npm start starts it: scripts/start.js's startProduct() (what `npm start`
// runs after the build) on free 127.0.0.1 ports with a temp userDir, the Runware simulator and the
// embedded MQTT broker. Shows that the doorbell example works offline end to end (an MQTT message on
// doorbell/ring → a clip under <userDir>/media/ovi/), that the banner says where everything is, and
// that the output stays quiet: no warning or error line twice, none from a node, no retry loop.
//
// Run: npx mocha --no-config --timeout 300000 test/start.test.js   (builds first; OVI_SKIP_BUILD=1 skips it)
const assert = require('assert/strict');
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { request, sleep } = require('./support/real-node-red');
const { startProduct, banner, SHARED_ACCOUNT } = require('../scripts/start.js');

const ROOT = path.resolve(__dirname, '..');
const EXAMPLES = fs.readdirSync(path.join(ROOT, 'examples')).filter((f) => f.endsWith('.json'));
/** How long the output is watched, from the start of Node-RED. */
const WATCH_MS = 20000;

/** Node-RED's own one-off notices at start-up, not about this package or the examples. */
const NODE_RED_NOTICES = [/^\[warn\] Projects disabled/];

/** A log line without its timestamp, and with ids and numbers made alike, so repeats show. */
const normal = (line) =>
  line
    .replace(/^\d{1,2} \w{3} \d\d:\d\d:\d\d - /, '')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<uuid>')
    .replace(/\d+/g, '#')
    .trim();

describe('npm start (scripts/start.js): the product on free 127.0.0.1 ports', function () {
  this.timeout(240000);
  let product;
  let userDir;
  let startedAt;

  before(async function () {
    if (!process.env.OVI_SKIP_BUILD) execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.js')], { cwd: ROOT, stdio: 'pipe', timeout: 300000 });
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ovi-start-'));
    // As on a newcomer's machine: no key (the simulator), no broker of their own (the embedded one).
    const env = { ...process.env, OVI_TEST_PARENT_PID: String(process.pid) };
    for (const k of ['RUNWARE_API_KEY', 'RUNWARE_ENDPOINT', 'MQTT_BROKER', 'MQTT_PORT', 'CAMERA_URL', 'OVI_PUBLIC_URL', 'NODE_OPTIONS', 'NODE_RED_HOME'])
      delete env[k];
    startedAt = Date.now();
    product = await startProduct({
      port: 0,
      simPort: 0,
      mqttPort: 0,
      userDir,
      renderMs: 1000,
      env,
      // exits Node-RED if this test process dies before its after hook
      nodeArgs: ['--require', path.join(__dirname, 'support', 'parent-watchdog.js')],
    });
  });

  after(async function () {
    if (product) await product.stop();
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  afterEach(function () {
    if (this.currentTest && this.currentTest.state === 'failed' && product) console.log('--- npm start output ---\n' + product.log().slice(-6000));
  });

  it('binds everything to 127.0.0.1, and the banner names the editor, the simulator endpoint and key, the broker and how to use a real key', function () {
    assert.match(product.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.match(product.runware.endpoint, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    assert.equal(product.broker.host, '127.0.0.1');
    assert.equal(product.broker.embedded, true);
    const text = banner(product);
    for (const want of [
      product.url,
      product.runware.endpoint,
      'API key: sim-key',
      'RUNWARE_API_KEY=<your key> npm start',
      product.broker.url,
      'doorbell/ring',
      'CAMERA_URL=',
    ]) {
      assert.ok(text.includes(want), 'the banner says ' + want + ':\n' + text);
    }
    assert.doesNotMatch(text, /no RUNWARE_API_KEY set/);
    console.log(text.replace(/^/gm, '      '));
  });

  it('deploys every example on its own tab, all with one shared Runware account', async function () {
    const flows = (await request('GET', product.url + 'flows', { headers: { 'Node-RED-API-Version': 'v1' } })).json();
    assert.equal(flows.filter((n) => n.type === 'tab').length, EXAMPLES.length);
    const accounts = flows.filter((n) => n.type === 'ovi-config');
    assert.deepEqual(
      accounts.map((n) => [n.id, n.name]),
      [[SHARED_ACCOUNT, 'Runware account']],
    );
    const oviNodes = flows.filter((n) => /^ovi-(submit|poll|webhook)$/.test(n.type));
    assert.ok(oviNodes.length >= EXAMPLES.length);
    for (const n of oviNodes) assert.equal(n.config, SHARED_ACCOUNT, n.id);
  });

  it('the doorbell example offline: an MQTT message on doorbell/ring (embedded broker) → a clip under <userDir>/media/ovi/', async function () {
    // The example's mqtt-broker node reads ${MQTT_BROKER}:${MQTT_PORT}, which npm start points at its broker.
    const connected = 'Connected to broker: ' + product.broker.url;
    for (let end = Date.now() + 20000; !product.log().includes(connected); await sleep(100)) {
      if (Date.now() > end) throw new Error('the mqtt-broker node never connected to ' + product.broker.url);
    }
    const mqtt = require('mqtt');
    const client = await mqtt.connectAsync(product.broker.url, { connectTimeout: 5000, reconnectPeriod: 0 });
    try {
      await client.publishAsync('doorbell/ring', 'ring', { qos: 1 });
    } finally {
      await client.endAsync();
    }
    // Where the example says: /media/ovi/<date>-<taskUUID>.mp4, i.e. media/ovi/ in the userDir here.
    const dir = path.join(userDir, 'media', 'ovi');
    let clips = [];
    for (let end = Date.now() + 30000; clips.length === 0; await sleep(200)) {
      clips = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.mp4')) : [];
      if (clips.length === 0 && Date.now() > end) throw new Error('no clip in ' + dir + ' within 30 s');
    }
    assert.equal(clips.length, 1, clips.join(', '));
    assert.match(clips[0], /^\d{4}-\d\d-\d\d-[0-9a-f-]{36}\.mp4$/);
    const bytes = fs.readFileSync(path.join(dir, clips[0]));
    assert.ok(bytes.equals(fs.readFileSync(path.join(ROOT, 'dist', 'simulator', 'media', 'ovi-sample.mp4'))), 'the clip the simulator serves');
    console.log('      ' + path.relative(userDir, path.join(dir, clips[0])) + ' (' + bytes.length + ' bytes) after one MQTT message');
  });

  it(
    'its output stays quiet for ' + WATCH_MS / 1000 + ' s with every example running: no warning or error twice, none from a node, no retry loop',
    async function () {
      // Run every example once more through its inject button, as a newcomer clicks through the tabs.
      const flows = (await request('GET', product.url + 'flows', { headers: { 'Node-RED-API-Version': 'v1' } })).json();
      const injects = flows.filter((n) => n.type === 'inject');
      assert.ok(injects.length >= EXAMPLES.length);
      for (const n of injects) {
        const r = await request('POST', product.url + 'inject/' + n.id, { body: {} });
        assert.equal(r.status, 200, 'inject ' + n.id);
      }
      await sleep(Math.max(0, startedAt + WATCH_MS - Date.now()));
      const lines = product
        .log()
        .split('\n')
        .map(normal)
        .filter((l) => /^\[(warn|error)\]/.test(l));
      const counts = new Map();
      for (const l of lines) counts.set(l, (counts.get(l) || 0) + 1);
      const repeated = [...counts].filter(([, n]) => n > 1);
      assert.deepEqual(repeated, [], 'warning or error lines that repeat');
      const fromNodes = lines.filter((l) => !NODE_RED_NOTICES.some((re) => re.test(l)));
      assert.deepEqual(fromNodes, [], 'warnings or errors from the examples or this package');
      assert.doesNotMatch(product.log(), /Connection failed|ECONNREFUSED|ENOTFOUND|reconnect/i, 'a retry loop');
      // Every info line, too: nothing says the same thing over and over.
      const info = new Map();
      for (const l of product.log().split('\n').map(normal)) if (/^\[info\] \[/.test(l)) info.set(l, (info.get(l) || 0) + 1);
      assert.deepEqual(
        [...info].filter(([, n]) => n > 3),
        [],
        'node log lines said more than 3 times',
      );
      console.log(
        '      ' +
          product.log().split('\n').length +
          ' lines in ' +
          Math.round((Date.now() - startedAt) / 1000) +
          ' s; warnings: ' +
          (lines.join(' | ') || 'none'),
      );
    },
  );
});
