'use strict';
// Image jobs keep their record: 50 camera snapshots of 10 MB (random bytes behind a PNG header, as
// msg.image Buffers) queue behind maxConcurrent 2 in a real Node-RED, which is SIGKILLed with most of
// them still queued. Their tasks (a 13 MB data URI each) live in side files, not in the journal, which
// stays small; the restart sends every one of them, each result leaves once, and the side files are
// gone once their tasks no longer need them.
const assert = require('assert');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { devNodeRed, startNodeRed, request, collectorServer, collectorPost, deploy } = require('../support/real-node-red');
const { createSimulator } = require('../../dist/simulator/server.js');
const { FileStore } = require('../../dist/nodes/lib/job-store.js');
const { sleep, pool, linkedUserDir, sigkill, report, mb } = require('./support');
const { pngOf, filesUnder, model } = require('./journal-support');

const API_KEY = 'rel-journal-images-key-Q2w7';
const N = Number(process.env.IMG_N || 50);
const IMAGE_BYTES = 10_000_000;
/** The journal of 50 queued image jobs, their tasks all in side files, must stay under this. */
const JOURNAL_BOUND = 256 * 1024;

function imageFlow({ endpoint, collectorUrl }) {
  const z = 'img.tab';
  return [
    { id: z, type: 'tab', label: 'images', disabled: false, info: '' },
    {
      id: 'img.cfg',
      type: 'ovi-config',
      name: 'images',
      endpoint,
      publicUrl: '',
      timeout: '30',
      maxConcurrent: '2',
      retries: '4',
      store: '',
      credentials: { apiKey: API_KEY },
    },
    {
      id: 'img.in',
      type: 'http in',
      z,
      name: '',
      url: '/img/submit',
      method: 'post',
      upload: false,
      swaggerDoc: '',
      x: 100,
      y: 100,
      wires: [['img.fn', 'img.ok']],
    },
    { id: 'img.ready', type: 'http in', z, name: '', url: '/img/ready', method: 'get', upload: false, swaggerDoc: '', x: 100, y: 40, wires: [['img.ok']] },
    { id: 'img.ok', type: 'http response', z, name: '', statusCode: '200', headers: {}, x: 300, y: 40, wires: [] },
    {
      id: 'img.fn',
      type: 'function',
      z,
      name: 'snapshot → msg.image',
      // A string prompt and msg.taskUUID (an object literal made here belongs to the sandbox's realm).
      func: 'msg.image = msg.payload;\nmsg.payload = "snapshot " + msg.req.query.i;\nmsg.taskUUID = msg.req.query.uuid;\nmsg.topic = "camera";\nreturn msg;',
      outputs: 1,
      noerr: 0,
      initialize: '',
      finalize: '',
      libs: [],
      x: 300,
      y: 100,
      wires: [['img.submit']],
    },
    {
      id: 'img.submit',
      type: 'ovi-submit',
      z,
      name: '',
      config: 'img.cfg',
      positivePrompt: 'payload',
      positivePromptType: 'msg',
      image: 'image',
      imageType: 'msg',
      advancedFeatures: {},
      safety: {},
      acceleratorOptions: {},
      delivery: 'poll',
      x: 500,
      y: 100,
      wires: [['img.poll']],
    },
    {
      id: 'img.poll',
      type: 'ovi-poll',
      z,
      name: '',
      config: 'img.cfg',
      initialDelay: '0.2',
      maxInterval: '0.3',
      timeout: '600',
      x: 700,
      y: 100,
      wires: [['img.result']],
    },
    collectorPost({ id: 'img.result', z, url: collectorUrl + '/result', name: 'result', y: 100 }),
    { id: 'img.catch', type: 'catch', z, name: '', scope: null, uncaught: false, x: 100, y: 200, wires: [['img.errpayload']] },
    {
      id: 'img.errpayload',
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
      wires: [['img.error']],
    },
    collectorPost({ id: 'img.error', z, url: collectorUrl + '/error', name: 'error', y: 200 }),
  ];
}

describe('reliability: image jobs in the journal', function () {
  this.timeout(240000);
  const redJs = devNodeRed().redJs;
  let sim;
  let userDir;
  let red;
  let collector;

  before(async () => {
    // Slow renders while the snapshots arrive: with 2 slots, nearly all of them queue, however slow the machine.
    sim = await createSimulator({ apiKeys: [API_KEY], renderMs: 20000 });
    userDir = linkedUserDir('ovi-images-');
    collector = await collectorServer();
  });
  after(async () => {
    if (red) await red.stop();
    if (collector) await collector.close();
    if (sim) await sim.close();
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });
  afterEach(function () {
    if (this.currentTest.state === 'failed' && red) console.log('--- Node-RED log ---\n' + red.log().slice(-5000));
  });

  const start = () => startNodeRed({ redJs, userDir, settings: { apiMaxLength: '20mb' } });
  async function ready() {
    for (let i = 0; i < 80; i++) {
      if ((await request('GET', red.url + '/img/ready').catch(() => ({ status: 0 }))).status === 200) return;
      await sleep(100);
    }
    throw new Error('the flow did not start');
  }

  it(N + ' queued 10 MB snapshots, maxConcurrent 2, SIGKILL, restart: all delivered once, a small journal, no side file left', async () => {
    const t0 = Date.now();
    red = await start();
    await deploy(red, imageFlow({ endpoint: sim.url, collectorUrl: collector.url }));
    await ready();
    const uuids = Array.from({ length: N }, () => crypto.randomUUID());
    await pool(N, 2, async (i) => {
      const r = await request('POST', red.url + '/img/submit?i=' + i + '&uuid=' + uuids[i], {
        body: pngOf(IMAGE_BYTES),
        headers: { 'Content-Type': 'application/octet-stream' },
        timeoutMs: 60000,
      });
      assert.strictEqual(r.status, 200, r.body);
    });
    const ovi = path.join(userDir, '.ovi');
    const journal = path.join(ovi, 'jobs-img.cfg.json');
    const side = path.join(ovi, 'jobs-img.cfg.side');
    // Counted from the records alone (a full load would read every side file, hundreds of MB, each time).
    const saved = () => (fs.existsSync(journal) ? model(fs.readFileSync(journal)).jobs.size : 0);
    const inFlight = async () => ((await new FileStore(journal, { readOnly: true }).load()).state || { jobs: [] }).jobs;
    // Every accepted msg is saved before it queues: wait until all 50 are in the journal.
    for (let until = Date.now() + 60000; saved() + (collector.got['/result'] || []).length < N; await sleep(200))
      if (Date.now() > until)
        throw new Error(
          'not all saved: ' +
            (await inFlight()).length +
            ' in the journal, results ' +
            (collector.got['/result'] || []).length +
            ', errors ' +
            JSON.stringify(collector.got['/error'] || []).slice(0, 2000),
        );
    await sigkill(red); // then look at what the dead process left on disk
    const submitS = (Date.now() - t0) / 1000;
    const loaded = await new FileStore(journal, { readOnly: true }).load();
    const jobs = loaded.state.jobs;
    const atKill = {
      accepted: uuids.filter((u) => sim.stats().acceptedByUUID[u]).length,
      delivered: (collector.got['/result'] || []).length,
      saved: jobs.length,
      queued: jobs.filter((j) => j.state === 'queued').length,
      withTask: jobs.filter((j) => j.wire).length,
      journalBytes: fs.statSync(journal).size,
      longestLine: Math.max(
        ...fs
          .readFileSync(journal, 'utf8')
          .split('\n')
          .map((l) => Buffer.byteLength(l)),
      ),
      sideFiles: fs.readdirSync(side).length,
      sideBytes: fs.readdirSync(side).reduce((s, n) => s + fs.statSync(path.join(side, n)).size, 0),
    };
    assert.deepStrictEqual(
      loaded.skipped.filter((s) => !/torn tail/.test(s.reason)),
      [],
      'every saved task and side file intact',
    );
    assert.ok(atKill.queued >= 40, 'most still queued at the kill: ' + atKill.queued);
    assert.ok(atKill.journalBytes < JOURNAL_BOUND, 'journal ' + atKill.journalBytes + ' bytes for ' + jobs.length + ' image jobs');
    assert.ok(atKill.longestLine < 64 * 1024, 'longest journal line ' + atKill.longestLine);
    assert.ok(atKill.sideFiles >= atKill.withTask, 'a side file per task still to send: ' + atKill.sideFiles + ' for ' + atKill.withTask);
    for (const n of fs.readdirSync(side)) assert.strictEqual(fs.statSync(path.join(side, n)).mode & 0o777, 0o600, n);

    // Restart with faster renders (those already accepted keep theirs).
    sim.configure({ renderMs: 300 });
    const t1 = Date.now();
    red = await start();
    await ready();
    const results = () => collector.got['/result'] || [];
    for (let until = Date.now() + 150000; new Set(results().map((b) => b.taskUUID)).size < N && Date.now() < until;) await sleep(250);
    await sleep(1500);
    const counts = {};
    for (const b of results()) counts[b.taskUUID] = (counts[b.taskUUID] || 0) + 1;
    const errors = collector.got['/error'] || [];
    await sleep(300);
    const after = { jobs: (await inFlight()).length, sideFiles: filesUnder(side), journalBytes: fs.statSync(journal).size };
    report('image jobs', {
      snapshots: N,
      imageMB: (IMAGE_BYTES / 1e6).toFixed(0),
      ...atKill,
      sideBytes: mb(atKill.sideBytes),
      submitS: submitS.toFixed(1),
      results: results().length,
      twice: Object.values(counts).filter((c) => c > 1).length,
      failures: errors.length,
      acceptedTwice: uuids.filter((u) => sim.stats().acceptedByUUID[u] > 1).length,
      afterRestartS: ((Date.now() - t1) / 1000).toFixed(1),
      sideFilesAfter: after.sideFiles.length,
      journalBytesAfter: after.journalBytes,
    });
    assert.deepStrictEqual(
      errors.map((e) => e.code + ': ' + e.message),
      [],
    );
    assert.deepStrictEqual(
      uuids.filter((u) => counts[u] !== 1),
      [],
      'each of the 50 delivered exactly once',
    );
    assert.deepStrictEqual(
      uuids.filter((u) => sim.stats().acceptedByUUID[u] !== 1),
      [],
      'each accepted exactly once',
    );
    assert.strictEqual(after.jobs, 0);
    assert.deepStrictEqual(after.sideFiles, [], 'side files removed once done');
    assert.ok(after.journalBytes < JOURNAL_BOUND, 'journal ' + after.journalBytes);
  });
});
