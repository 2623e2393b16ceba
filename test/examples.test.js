'use strict';
// Every example in examples/ imported into a REAL Node-RED 4.1 (the devDependency) with the packed
// package installed (npm pack → npm install, test/support/real-node-red.js), deployed through the admin
// API, checked for unknown node types, started by pressing its inject(s) and run against the Runware
// simulator this test starts. The folder is iterated: a new example is covered by the generic checks
// (deploys, only known types, every ovi poll / ovi webhook node sends a result with a videoURL, no
// failure) and gets its specific checks once it has an entry in CHECKS.
//
// What the test changes in an example before deploying it (and nothing else):
//   - tap wires: every debug node, ovi poll / ovi webhook output and Catch node also feeds a function
//     node that POSTs a JSON summary of the msg to a collector server here;
//   - a file path under /media (the Home Assistant media folder of the doorbell example) is moved
//     under a temp dir; a user on another system edits that path the same way;
// Credentials are not added: imported examples carry none, and the ovi webhook node must work with
// the temporary token it makes for itself then.
// Environment of Node-RED (exampleEnv of test/support): RUNWARE_ENDPOINT / RUNWARE_API_KEY (the
// simulator), CAMERA_URL (the simulator's /samples/snapshot.jpg), OVI_PUBLIC_URL (this Node-RED's own
// URL, so the simulator's webhooks reach it). Node-RED's settings are its defaults: httpAdminRoot and
// httpNodeRoot both "/", as users run it.
//
// Run: node scripts/build.js && npx mocha --no-config --timeout 600000 test/examples.test.js
const assert = require('assert/strict');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const {
  ROOT,
  MODULE,
  packOnce,
  userDirWith,
  devNodeRed,
  startNodeRed,
  exampleEnv,
  request,
  collectorServer,
  collectorPost,
  deploy,
  sleep,
} = require('./support/real-node-red');

const KEY = 'sim-key-examples-test';
const EXAMPLES = path.join(ROOT, 'examples');
const FILES = fs
  .readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.json'))
  .sort();
const FIXTURES = path.join(ROOT, 'dist', 'simulator', 'media');
const WAIT_MS = 60000;

/** A config node has no position and no wires (the rule scripts/start.js uses too). */
const isConfigNode = (n) => !('x' in n) && !('wires' in n);

// ---------------------------------------------------------------- what this test adds to test/support
// instrumentExample/runExample there tap only ovi poll / ovi webhook results and press only the first
// inject; these examples also need their debug nodes' msgs, their pages and their files checked.

/** The msg summary a tap POSTs: every property but req/res/_msgid, Buffers as {buffer: length}. */
const TAP_FUNC = [
  'const out = {};',
  'for (const k of Object.keys(msg)) {',
  "    if (k === 'req' || k === 'res' || k === '_msgid') continue;",
  '    out[k] = Buffer.isBuffer(msg[k]) ? { buffer: msg[k].length } : msg[k];',
  '}',
  'return { payload: out };',
].join('\n');

/**
 * The example made observable (see the header). Returns { flows, injects }; the taps POST to the
 * collector paths /debug/<debug node id>, /out/<ovi poll or ovi webhook id> and /error/<catch id>.
 */
function instrument(example, collectorUrl, { tabId, mediaRoot }) {
  const tab = { id: tabId, type: 'tab', label: 'examples test', disabled: false, info: '' };
  const nodes = example.map((n) => {
    const copy = JSON.parse(JSON.stringify(n));
    if (!isConfigNode(copy)) copy.z = tab.id;
    return copy;
  });
  const extra = [];
  let y = 600;
  const tap = (urlPath) => {
    const id = 'tap.' + crypto.randomUUID().slice(0, 8);
    extra.push(
      {
        id,
        type: 'function',
        z: tab.id,
        name: 'tap ' + urlPath,
        func: TAP_FUNC,
        outputs: 1,
        timeout: 0,
        noerr: 0,
        initialize: '',
        finalize: '',
        libs: [],
        x: 700,
        y,
        wires: [[id + '.post']],
      },
      collectorPost({ id: id + '.post', z: tab.id, url: collectorUrl + urlPath, name: 'POST ' + urlPath, y }),
    );
    y += 40;
    return id;
  };
  // Debug nodes: whatever reaches one also reaches its tap.
  for (const d of nodes.filter((n) => n.type === 'debug')) {
    const t = tap('/debug/' + d.id);
    for (const n of nodes) for (const out of n.wires || []) if (out.includes(d.id)) out.push(t);
  }
  for (const n of nodes.filter((n) => n.type === 'ovi-poll' || n.type === 'ovi-webhook')) n.wires[0].push(tap('/out/' + n.id));
  for (const c of nodes.filter((n) => n.type === 'catch')) c.wires[0].push(tap('/error/' + c.id));
  for (const n of nodes.filter((n) => (n.type === 'ovi-poll' || n.type === 'ovi-webhook') && n.output === 'file')) {
    if (typeof n.filePath === 'string' && n.filePath.startsWith('/media/')) n.filePath = path.join(mediaRoot, n.filePath);
  }
  assert.equal(new Set(nodes.map((n) => n.id)).size, nodes.length, 'unique node ids');
  return { flows: [tab, ...nodes, ...extra], injects: nodes.filter((n) => n.type === 'inject').map((n) => n.id) };
}

/**
 * Wait until `n` bodies about this example's own tasks were POSTed to `urlPath`; bounded; fails early
 * when a Catch tap reports. `own(taskUUID)` tells this example's tasks from leftovers of an earlier
 * one (a task in flight survives a redeploy and may leave from another ovi poll node).
 */
async function collected(collector, urlPath, n, own, ms = WAIT_MS) {
  const end = Date.now() + ms;
  for (;;) {
    const got = (collector.got[urlPath] || []).filter((b) => b && (b.taskUUID === undefined || own(b.taskUUID)));
    if (got.length >= n) return got.slice(0, n);
    const errors = caught(collector, own);
    if (errors.length) throw new Error('the example failed: ' + JSON.stringify(errors[0]).slice(0, 2000));
    if (Date.now() > end)
      throw new Error(
        'expected ' +
          n +
          ' msg(s) at ' +
          urlPath +
          ' within ' +
          ms / 1000 +
          ' s, got ' +
          got.length +
          ' (collected: ' +
          Object.keys(collector.got).join(', ') +
          ')',
      );
    await sleep(100);
  }
}

/** What the example's Catch nodes caught (about its own tasks, or about no task). */
function caught(collector, own) {
  return Object.keys(collector.got)
    .filter((p) => p.startsWith('/error/'))
    .flatMap((p) => collector.got[p])
    .filter((b) => !b || b.taskUUID === undefined || own(b.taskUUID));
}

/** The taskUUIDs of the videoInference tasks the simulator received since `since` (ms). */
function tasksSince(sim, since) {
  const out = new Set();
  for (const r of sim.requests()) {
    if (r.at < since) continue;
    let body = [];
    try {
      body = JSON.parse(r.bodyText);
    } catch {
      /* not JSON */
    }
    for (const t of Array.isArray(body) ? body : []) if (t && t.taskType === 'videoInference' && typeof t.taskUUID === 'string') out.add(t.taskUUID);
  }
  return out;
}

/** The admin API's base URL (httpAdminRoot may differ from "/"). */
const admin = (red) => red.adminUrl || red.url;

async function pressInject(red, id) {
  // The flows start right after the deploy answers; the inject endpoint 404s until the node exists.
  let r;
  for (let i = 0; i < 40; i++) {
    r = await request('POST', admin(red) + '/inject/' + encodeURIComponent(id), { body: {} });
    if (r.status === 200) return;
    await sleep(250);
  }
  throw new Error('POST /inject/' + id + ' answered ' + r.status + ': ' + r.body);
}

/** GET a page until `ok(body)` holds; bounded. */
async function pageWhen(url, ok, ms = 15000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    last = await request('GET', url);
    if (last.status === 200 && ok(last.body)) return last;
    if (Date.now() > end) throw new Error('GET ' + url + ' never matched (last ' + last.status + '):\n' + last.body.slice(0, 1500));
    await sleep(200);
  }
}

const htmlDecode = (s) =>
  s
    .replace(/&#x2F;/g, '/')
    .replace(/&#x3D;/g, '=')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
/** The <video ...> tags of a page: their attributes and decoded src. */
function videosOf(html) {
  return [...html.matchAll(/<video\b([^>]*)>/g)].map((m) => ({ attrs: m[1], src: htmlDecode((/\bsrc="([^"]*)"/.exec(m[1]) || [])[1] || '') }));
}

// ---------------------------------------------------------------- per-example checks

/** ctx: { red, sim, collector, mediaRoot, example, own(taskUUID), fixture(name) }. Each returns a one-line summary. */
const CHECKS = {
  async '01-text-to-video-poll.json'({ sim, collector, own }) {
    const [out] = await collected(collector, '/out/t2v.poll', 1, own);
    const [shown] = await collected(collector, '/debug/t2v.debug', 1, own);
    assert.ok(out.payload.videoURL.startsWith(sim.baseUrl + '/media/'), out.payload.videoURL);
    assert.equal(shown.payload.videoURL, out.payload.videoURL);
    assert.equal(out.topic, 'fox', 'msg.topic comes back');
    assert.equal(out.mimetype, 'video/mp4');
    assert.equal(out.ovi.cost, 0.0437);
    return 'result ' + out.payload.videoURL.replace(sim.baseUrl, '<sim>') + ', cost ' + out.ovi.cost;
  },

  async '02-image-to-video-poll.json'({ sim, collector, own, fixture }) {
    const outs = await collected(collector, '/out/i2v.poll', 2, own);
    const [all] = await collected(collector, '/debug/i2v.all', 1, own);
    assert.ok(Array.isArray(all.payload) && all.payload.length === 2, 'join regroups both results');
    assert.deepEqual(
      all.payload.map((p) => p.videoURL),
      [...outs].sort((a, b) => a.ovi.index - b.ovi.index).map((o) => o.payload.videoURL),
    );
    assert.notEqual(all.payload[0].videoURL, all.payload[1].videoURL);
    // The snapshot Buffer the http request node fetched from CAMERA_URL went to Runware as inputs.image.
    const snapshot = fixture('snapshot.jpg');
    const submitted = sim
      .requests()
      .map((r) => {
        try {
          return JSON.parse(r.bodyText);
        } catch {
          return [];
        }
      })
      .flat()
      .find((t) => t && t.taskType === 'videoInference' && t.taskUUID === outs[0].taskUUID);
    assert.ok(submitted, 'the task reached the simulator');
    assert.equal(submitted.inputs.image, 'data:image/jpeg;base64,' + snapshot.toString('base64'));
    assert.equal(submitted.numberResults, 2);
    return '2 results joined, inputs.image = the ' + snapshot.length + '-byte camera snapshot';
  },

  async '03-webhook-round-trip.json'({ red, sim, collector, own }) {
    const [ack] = await collected(collector, '/debug/hook.ack', 1, own);
    const uuid = ack.taskUUID;
    assert.match(ack.ovi.task.webhookURL, /\/ovi\/results\?token=\*\*\*$/, 'the token is masked in msg.ovi.task');
    // The simulator POSTs the result to <OVI_PUBLIC_URL>/ovi/results?token=...; the ovi webhook node
    // must answer it (2xx) before anything else can be checked.
    const end = Date.now() + WAIT_MS;
    let attempts = [];
    while (!attempts.some((d) => d.status === 200) && Date.now() < end) {
      attempts = sim.deliveries().filter((d) => d.taskUUID === uuid && d.kind === 'webhook');
      if (attempts.length && !attempts.some((d) => d.status === 200)) break;
      await sleep(100);
    }
    assert.ok(
      attempts.some((d) => d.status === 200 && d.url.startsWith(red.url + '/ovi/results?')),
      "the ovi webhook node did not accept the simulator's result POST: " +
        JSON.stringify(attempts) +
        (attempts.some((d) => /no answer/.test(d.error || ''))
          ? " (no answer at all: did another body parser, e.g. the admin API's at the same root, read the request first?)"
          : ''),
    );
    const [out] = await collected(collector, '/out/hook.webhook', 1, own);
    const [shown] = await collected(collector, '/debug/hook.debug', 1, own);
    assert.equal(out.taskUUID, uuid);
    assert.equal(shown.payload.videoURL, out.payload.videoURL);
    assert.ok(out.payload.videoURL.startsWith(sim.baseUrl + '/media/'));
    assert.equal(out.topic, 'lighthouse', 'msg.topic comes back through the webhook path');
    assert.ok(!(out.ovi && out.ovi.uncorrelated), 'correlated with the submitted task');
    const polled = sim.requests().some((r) => /getResponse/.test(r.bodyText) && r.bodyText.includes(uuid));
    assert.equal(polled, false, 'no getResponse: the result came by webhook only');
    return 'result by webhook POST <public URL>/ovi/results (200), never polled';
  },

  async '04-doorbell-video-notification.json'({ red, collector, mediaRoot, own, fixture }) {
    const [out] = await collected(collector, '/out/door.poll', 1, own);
    const [note] = await collected(collector, '/debug/door.video', 1, own);
    const dir = path.join(mediaRoot, 'media', 'ovi');
    assert.equal(path.dirname(out.filename), dir);
    assert.match(path.basename(out.filename), new RegExp('^\\d{4}-\\d{2}-\\d{2}-' + out.taskUUID + '\\.mp4$'));
    const bytes = fs.readFileSync(out.filename);
    assert.ok(bytes.equals(fixture('ovi-sample.mp4')), 'the file holds the clip the simulator serves');
    const served = await request('GET', out.payload.videoURL);
    assert.ok(served.buffer.equals(bytes), 'the same bytes as GET videoURL');
    assert.equal(out.ovi.bytes, bytes.length);
    assert.equal(out.mimetype, 'video/mp4');
    assert.equal(out.topic, 'doorbell');
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.endsWith('.part')),
      [],
      'no temp files left',
    );
    // The notification-ready msg, from the size guard's first output (a 15 kB clip).
    assert.equal(note.payload.type, 'video');
    assert.equal(note.payload.content, out.filename);
    assert.match(note.payload.caption, /at the door/);
    assert.equal(note.videoURL, out.payload.videoURL);
    assert.equal(note.notify.data.url, out.payload.videoURL);
    assert.ok(!collector.got['/debug/door.doc'] && !collector.got['/debug/door.link'], 'only the first size branch fires');
    // The mqtt in node deployed with its broker config although no broker runs.
    const flows = (await request('GET', admin(red) + '/flows', { headers: { 'Node-RED-API-Version': 'v1' } })).json();
    assert.ok(flows.some((n) => n.type === 'mqtt in') && flows.some((n) => n.type === 'mqtt-broker'));
    return 'file ' + path.relative(mediaRoot, out.filename) + ' (' + bytes.length + ' bytes = the served clip), notification ' + note.payload.type;
  },

  async '05-latest-clip-page.json'({ red, collector, own }) {
    // BEFORE saw the page without a clip; now the inject's clip.
    const [out] = await collected(collector, '/out/latest.poll', 1, own);
    const url = out.payload.videoURL;
    const page = await pageWhen(red.url + '/ovi/latest', (b) => videosOf(b).length > 0);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    const videos = videosOf(page.body);
    assert.equal(videos.length, 1);
    assert.equal(videos[0].src, url);
    for (const a of ['controls', 'autoplay', 'muted']) assert.match(videos[0].attrs, new RegExp('\\b' + a + '\\b'), a);
    assert.match(page.body, /An owl on a branch/);
    return 'GET /ovi/latest plays ' + url.replace(/^https?:\/\/[^/]+/, '<sim>');
  },

  async '06-four-takes-gallery.json'({ red, collector, own }) {
    const outs = await collected(collector, '/out/gallery.poll', 4, own);
    const [all] = await collected(collector, '/debug/gallery.all', 1, own);
    assert.equal(all.payload.length, 4);
    const urls = [...outs].sort((a, b) => a.ovi.index - b.ovi.index).map((o) => o.payload.videoURL);
    assert.equal(new Set(urls).size, 4);
    assert.deepEqual(
      all.payload.map((p) => p.videoURL),
      urls,
    );
    const page = await pageWhen(red.url + '/ovi/gallery', (b) => videosOf(b).length > 0);
    const videos = videosOf(page.body);
    assert.deepEqual(
      videos.map((v) => v.src),
      urls,
      'the page lists the four videos in order',
    );
    return 'join → 4 results, GET /ovi/gallery lists ' + videos.length + ' <video> tags';
  },
};

/** Pages an example serves before its first result (checked right after the deploy). */
const BEFORE = {
  async '05-latest-clip-page.json'({ red }) {
    const r = await pageWhen(red.url + '/ovi/latest', (b) => /No clip yet/.test(b));
    assert.equal(videosOf(r.body).length, 0);
  },
  async '06-four-takes-gallery.json'({ red }) {
    const r = await pageWhen(red.url + '/ovi/gallery', (b) => /No videos yet/.test(b));
    assert.equal(videosOf(r.body).length, 0);
  },
};

/** Any example: every ovi poll / ovi webhook node sends at least one result with a videoURL. */
async function genericCheck({ collector, example, own }) {
  const sources = example.filter((n) => n.type === 'ovi-poll' || n.type === 'ovi-webhook');
  const parts = [];
  for (const s of sources) {
    const [out] = await collected(collector, '/out/' + s.id, 1, own);
    const item = out.ovi && out.ovi.result ? out.ovi.result : out.payload;
    assert.match(String(item.videoURL), /^https?:\/\//, s.id + ' result has a videoURL');
    parts.push(s.id + ' → ' + item.videoURL);
  }
  return parts.join(', ') || 'deployed (no ovi result node)';
}

// ---------------------------------------------------------------- the suite

describe('examples/ in a real Node-RED 4.1, run against the simulator', function () {
  this.timeout(600000);
  let userDir;
  let red;
  let sim;
  let mediaRoot;
  let knownTypes;

  before(async function () {
    const pack = await packOnce();
    userDir = await userDirWith(pack.tarball);
    const { createSimulator } = require('../dist/simulator/server.js');
    sim = await createSimulator({ apiKeys: [KEY], renderMs: 200 });
    mediaRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'ovi-examples-media-'));
    red = await startNodeRed({
      redJs: devNodeRed().redJs,
      userDir,
      env: exampleEnv(sim, KEY),
    });
    const sets = (await request('GET', admin(red) + '/nodes', { headers: { Accept: 'application/json' } })).json();
    knownTypes = new Set(sets.filter((s) => s.enabled !== false && !s.err).flatMap((s) => s.types));
    assert.ok(knownTypes.has('ovi-submit') && knownTypes.has('inject'), 'GET /nodes lists core and our types');
  });

  after(async function () {
    if (red) await red.stop();
    if (sim) await sim.close();
    for (const d of [userDir, mediaRoot]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  afterEach(function () {
    if (this.currentTest && this.currentTest.state === 'failed' && red) {
      console.log('--- Node-RED log ---\n' + red.log().slice(-6000));
      console.log('--- simulator deliveries ---\n' + JSON.stringify(sim.deliveries().slice(-10)));
    }
  });

  it('has at least six examples, each a flat node array with a documenting comment and its own "Runware account" node (ids unique across examples)', function () {
    assert.ok(FILES.length >= 6, FILES.join(', '));
    const accounts = [];
    const ids = new Map();
    for (const f of FILES) {
      const nodes = JSON.parse(fs.readFileSync(path.join(EXAMPLES, f), 'utf8'));
      assert.ok(Array.isArray(nodes), f);
      assert.ok(!nodes.some((n) => n.type === 'tab' || n.z), f + ': no tab, no z (imported into the current tab)');
      const comment = nodes.find((n) => n.type === 'comment');
      assert.ok(comment && comment.info.length > 600, f + ': a comment node that documents the example');
      for (const part of ['What it does', 'For real use', 'Message properties']) assert.ok(comment.info.includes(part), f + ': comment covers "' + part + '"');
      const cfgs = nodes.filter((n) => n.type === 'ovi-config');
      assert.equal(cfgs.length, 1, f + ': one ovi-config node');
      assert.equal(cfgs[0].name, 'Runware account', f + ": the account's name fits the editor's dialogs");
      for (const n of nodes.filter((n) => n.type.startsWith('ovi-') && n.type !== 'ovi-config'))
        assert.equal(n.config, cfgs[0].id, f + ': ' + n.id + ' uses its account');
      const { id: _id, ...settings } = cfgs[0];
      accounts.push(JSON.stringify(settings));
      // Importing a second example into the editor must not conflict with the first ("nodes already
      // exist"): no id, config nodes included, appears in two examples. npm start loads them all too.
      for (const n of nodes) {
        assert.ok(!ids.has(n.id), n.id + ' in ' + f + ' and ' + ids.get(n.id));
        ids.set(n.id, f);
      }
    }
    assert.equal(new Set(accounts).size, 1, 'the same account settings everywhere');
    assert.match(accounts[0], /"endpoint":"\$\{RUNWARE_ENDPOINT\}"/);
    assert.match(accounts[0], /"publicUrl":"\$\{OVI_PUBLIC_URL\}"/);
  });

  for (const file of FILES) {
    it(file + ': deploys with only known node types and runs against the simulator', async function () {
      const example = JSON.parse(fs.readFileSync(path.join(EXAMPLES, file), 'utf8'));
      const used = [...new Set(example.map((n) => n.type))];
      const unknown = used.filter((t) => !knownTypes.has(t));
      assert.deepEqual(unknown, [], file + ': node types this Node-RED does not have');

      const collector = await collectorServer();
      try {
        const { flows, injects } = instrument(example, collector.url, { tabId: 'ovi.test.' + file.replace(/\W+/g, '_'), mediaRoot });
        assert.ok(injects.length > 0, file + ': an inject to start it');
        const logFrom = red.log().length;
        await deploy(red, flows);
        // Deployed means started: the nodes exist (missing types would stop all flows) ...
        const deployed = (await request('GET', admin(red) + '/flows', { headers: { 'Node-RED-API-Version': 'v2' } })).json();
        assert.ok(
          example.every((n) => deployed.flows.some((d) => d.id === n.id)),
          'GET /flows has every node',
        );
        const ctx = { red, sim, collector, mediaRoot, example, own: null, fixture: (name) => fs.readFileSync(path.join(FIXTURES, name)) };
        if (BEFORE[file]) await BEFORE[file](ctx);
        const since = Date.now();
        let own = new Set();
        ctx.own = (uuid) => own.has(uuid) || (own = tasksSince(sim, since)).has(uuid);
        for (const id of injects) await pressInject(red, id);
        const summary = await (CHECKS[file] || genericCheck)(ctx);
        // ... and the log agrees: no missing types, no node that failed to start.
        const log = red.log().slice(logFrom);
        assert.doesNotMatch(log, /Waiting for missing types|Unknown type|missing-types/i, 'missing node types at deploy');
        assert.doesNotMatch(
          log,
          /\[error\] \[(ovi-[\w-]+|inject|change|function|switch|join|template|http (in|request|response))[:\]]/,
          'a node logged an error',
        );
        assert.deepEqual(caught(collector, ctx.own), [], 'what a Catch node caught');
        console.log('      ' + file + ': ' + summary);
      } finally {
        await collector.close();
      }
    });
  }

  it('02 and 04 without CAMERA_URL: the Catch node gets "set CAMERA_URL to your camera\'s snapshot URL", nothing reaches the camera or Runware', async function () {
    for (const [file, prefix] of [
      ['02-image-to-video-poll.json', 'i2v'],
      ['04-doorbell-video-notification.json', 'door'],
    ]) {
      const example = JSON.parse(fs.readFileSync(path.join(EXAMPLES, file), 'utf8'));
      const collector = await collectorServer();
      try {
        const { flows, injects } = instrument(example, collector.url, { tabId: 'ovi.test.nocamera', mediaRoot });
        // A flow-level variable hides the process's CAMERA_URL: as if it were not set.
        flows[0].env = [{ name: 'CAMERA_URL', value: '', type: 'str' }];
        const logFrom = red.log().length;
        const submits = sim.stats().submits;
        await deploy(red, flows);
        for (const id of injects) await pressInject(red, id);
        const { body } = await collector.next(['/error/' + prefix + '.catch'], 20000);
        assert.match(body.error.message, /^set CAMERA_URL to your camera's snapshot URL/, file);
        assert.equal(body.error.source.id, prefix + '.cameraurl', file);
        await sleep(500);
        assert.equal(sim.stats().submits, submits, file + ': nothing submitted');
        assert.doesNotMatch(red.log().slice(logFrom), /ENOTFOUND|No url specified/, file);
        console.log('      ' + file + ' without CAMERA_URL: ' + body.error.message.slice(0, 60) + '…');
      } finally {
        await collector.close();
      }
    }
  });

  it('the examples use only core node types and those of ' + MODULE, function () {
    const ours = new Set(['ovi-config', 'ovi-submit', 'ovi-poll', 'ovi-webhook']);
    const core = new Set([
      'comment',
      'inject',
      'debug',
      'catch',
      'change',
      'switch',
      'function',
      'join',
      'template',
      'http in',
      'http response',
      'http request',
      'mqtt in',
      'mqtt-broker',
      'file in',
    ]);
    for (const f of FILES) {
      for (const n of JSON.parse(fs.readFileSync(path.join(EXAMPLES, f), 'utf8'))) assert.ok(ours.has(n.type) || core.has(n.type), f + ': ' + n.type);
    }
  });
});
