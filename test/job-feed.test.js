'use strict';
// The Ovi sidebar's runtime side (nodes/lib/job-feed.ts, nodes/lib/sidebar.ts): nothing is published
// while idle, a burst of job events becomes few publishes, memory stays bounded, and the admin
// routes (snapshot, media, collect) answer as documented. Real config/submit/poll nodes against the
// simulator through node-red-node-test-helper, plus a JobFeed on a stand-in account for exact counts.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { helper, useHarness, KEY, pollNode, pipeline, place, load, collector, sleep } = require('./helpers');
const { JobFeed, TOPIC_PREFIX } = require('../dist/nodes/lib/job-feed.js');
const { MediaRegistry } = require('../dist/nodes/lib/media-registry.js');
const { feedOf, media } = require('../dist/nodes/lib/sidebar.js');
const { OviError } = require('../dist/nodes/lib/errors.js');

/** Every RED.comms.publish of the sidebar's topics, as the runtime's comms would send them. */
function capturePublishes() {
  const seen = [];
  const listener = (e) => {
    if (e && typeof e.topic === 'string' && e.topic.startsWith(TOPIC_PREFIX))
      seen.push({ at: Date.now(), topic: e.topic, data: JSON.parse(JSON.stringify(e.data)) });
  };
  helper._events.on('comms', listener);
  return { seen, stop: () => helper._events.removeListener('comms', listener) };
}

/** An account stand-in: events are emitted by hand. */
function fakeSource() {
  const observers = new Set();
  const listeners = new Set();
  const records = new Map();
  return {
    records,
    onJobEvent(o) {
      observers.add(o);
      return () => observers.delete(o);
    },
    onChange(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    emit(e) {
      for (const o of observers) o(e);
    },
    cost: { total: 0, budget: null, reserved: 0 },
    running: 0,
    queued: 0,
    ready: Promise.resolve(),
    hub: { all: () => [...records.values()], get: (u) => records.get(u) },
    get observerCount() {
      return observers.size;
    },
  };
}

let uuidN = 0;
function rec(extra = {}) {
  const n = (++uuidN).toString(16).padStart(12, '0');
  return {
    taskUUID: '11111111-2222-4333-8444-' + n,
    numberResults: 1,
    outputFormat: 'MP4',
    via: 'poll',
    msg: {},
    createdAt: Date.now(),
    deadline: Date.now() + 60000,
    delivered: [],
    failed: [],
    done: false,
    submitterId: 'submit',
    ...extra,
  };
}

describe('Ovi sidebar: editor script and catalog', function () {
  // test/i18n.test.js checks that every language has every en-US key; this checks the keys the sidebar
  // script uses (t('sidebar.…') → node-red-contrib-runware-ovi/ovi-config:sidebar.…) exist, and none is stale.
  it('every key resources/ovi-sidebar.js uses is in en-US/ovi-config.json, and every sidebar key there is used', () => {
    const root = path.join(__dirname, '..');
    const script = fs.readFileSync(path.join(root, 'resources', 'ovi-sidebar.js'), 'utf8');
    const catalog = JSON.parse(fs.readFileSync(path.join(root, 'locales', 'en-US', 'ovi-config.json'), 'utf8'));
    const used = new Set([...script.matchAll(/\bt\('(sidebar\.[\w.]+)'/g), ...script.matchAll(/ovi-config:(sidebar\.[\w.]+)'/g)].map((m) => m[1]));
    assert.ok(used.size > 25, 'found ' + used.size + ' keys');
    const leaves = (o, p) => Object.entries(o).flatMap(([k, v]) => (typeof v === 'object' ? leaves(v, p + k + '.') : [p + k]));
    const defined = new Set(leaves(catalog.sidebar, 'sidebar.'));
    assert.deepStrictEqual(
      [...used].filter((k) => !defined.has(k)),
      [],
      'used but not in en-US',
    );
    assert.deepStrictEqual(
      [...defined].filter((k) => !used.has(k)),
      [],
      'in en-US but not used',
    );
  });
});

describe('Ovi sidebar feed (runtime side)', function () {
  this.timeout(30000);

  describe('JobFeed on a stand-in account', function () {
    function feed(opts = {}) {
      const source = fakeSource();
      const published = [];
      const registry = new MediaRegistry(100);
      const f = new JobFeed({
        id: 'acc',
        label: 'acc',
        source,
        media: registry,
        publish: (topic, data) => published.push({ topic, data, at: Date.now() }),
        ...opts,
      }).start();
      return { f, source, published, registry };
    }

    it('publishes nothing and keeps no timer while idle', async () => {
      const { f, published, source } = feed({ throttleMs: 50 });
      await sleep(400);
      assert.strictEqual(published.length, 0);
      assert.strictEqual(f.pending, false);
      // progress answers that change nothing (no progress number, same state) publish nothing either
      const r = rec({ state: 'running' });
      source.records.set(r.taskUUID, r);
      source.emit({ kind: 'running', rec: r });
      await sleep(120);
      assert.strictEqual(published.length, 1);
      for (let i = 0; i < 20; i++) source.emit({ kind: 'progress', rec: r });
      await sleep(200);
      assert.strictEqual(published.length, 1, 'unchanged progress answers are not news');
      assert.strictEqual(f.pending, false);
      f.stop();
      assert.strictEqual(source.observerCount, 0, 'stop() unsubscribes');
    });

    it('coalesces a burst: 1,000 events in one tick are one publish; a 1 s stream is at most one per throttle period', async () => {
      const { f, source, published } = feed({ throttleMs: 250 });
      const recs = Array.from({ length: 200 }, () => rec({ state: 'queued' }));
      for (const r of recs) source.records.set(r.taskUUID, r);
      for (let i = 0; i < 1000; i++) {
        const r = recs[i % recs.length];
        source.emit({ kind: i < 200 ? 'queued' : 'progress', rec: r, progress: i / 10 });
      }
      await sleep(100);
      assert.strictEqual(published.length, 1, 'one publish for the burst');
      assert.strictEqual(published[0].topic, TOPIC_PREFIX + 'acc');
      // now a stream: an event every 5 ms for a second
      const t0 = Date.now();
      let i = 0;
      while (Date.now() - t0 < 1000) {
        const r = recs[i % recs.length];
        source.emit({ kind: 'progress', rec: r, progress: (i++ % 100) + 0.4 });
        await sleep(5);
      }
      await sleep(400);
      const stream = published.slice(1);
      assert.ok(stream.length >= 2 && stream.length <= 6, stream.length + ' publishes for ' + i + ' events in 1 s');
      for (let k = 1; k < published.length; k++) assert.ok(published[k].at - published[k - 1].at >= 240, 'publishes at least a throttle period apart');
      // sequence numbers are consecutive: an editor detects a gap
      assert.deepStrictEqual(
        published.map((p) => p.data.seq),
        published.map((_, k) => k + 1),
      );
      f.stop();
    });

    it('stays bounded: 500 results keep the last 50 (and their files), 500 jobs in flight send 50', async () => {
      const { f, source, published, registry } = feed({ throttleMs: 20 });
      const recs = Array.from({ length: 500 }, () => rec({ state: 'queued' }));
      for (const r of recs) {
        source.records.set(r.taskUUID, r);
        source.emit({ kind: 'queued', rec: r });
      }
      await sleep(80);
      const first = published[published.length - 1].data;
      assert.strictEqual(first.jobs.length, 50, 'the first 50 jobs are sent');
      assert.strictEqual(first.inFlight, 500);
      assert.deepStrictEqual(
        first.jobs.map((j) => j.taskUUID),
        recs.slice(0, 50).map((r) => r.taskUUID),
      );
      for (const r of recs) {
        const item = {
          taskUUID: r.taskUUID,
          videoUUID: r.taskUUID.replace(/^1/, '9'),
          videoURL: 'https://cdn.example/' + r.taskUUID + '.mp4',
          seed: 12345678901234567890n,
          cost: 0.5,
        };
        source.emit({ kind: 'result', rec: r, item, index: 0 });
        source.emit({ kind: 'file', taskUUID: r.taskUUID, file: '/tmp/ovi-' + r.taskUUID + '.mp4', item });
        source.emit({ kind: 'failure', rec: r, err: new OviError({ code: 'timeout', message: 'late' }), index: 0 });
        r.done = true;
        source.records.delete(r.taskUUID);
        source.emit({ kind: 'finished', rec: r });
      }
      await sleep(80);
      assert.strictEqual(f.model.results.size, 50);
      assert.strictEqual(f.model.failures.size, 50);
      assert.strictEqual(f.model.jobs.size, 0);
      assert.strictEqual(f.model.sent.size, 0);
      assert.strictEqual(registry.size, 50, 'files of results that left the feed are forgotten');
      const snap = f.snapshot();
      assert.strictEqual(snap.results.length, 50);
      assert.strictEqual(snap.results[49].taskUUID, recs[499].taskUUID, 'the newest are kept');
      assert.strictEqual(snap.results[49].seed, '12345678901234567890', 'a bigint seed arrives as text, every digit');
      assert.ok(registry.get(snap.results[49].media), 'the result names its file by id');
      assert.ok(!JSON.stringify(snap).includes('/tmp/ovi-'), 'no path reaches the editor');
      const last = published[published.length - 1].data;
      assert.ok(last.results.length <= 50 && last.failures.length <= 50, 'a delta carries at most the caps');
      assert.strictEqual(last.inFlight, 0);
      f.stop();
    });

    it('takes secrets out of failure texts, and a removed account tells the editors and forgets its files', async () => {
      const { f, source, published, registry } = feed({
        throttleMs: 10,
        scrub: (t) =>
          t
            .split('sekret-key')
            .join('***')
            .replace(/([?&]token=)[^&\s]*/g, '$1***'),
      });
      const r = rec({ state: 'running' });
      source.records.set(r.taskUUID, r);
      source.emit({
        kind: 'failure',
        rec: r,
        index: 0,
        err: new OviError({ code: 'validation', parameter: 'webhookURL', message: 'bad https://h/x?token=abc123 with sekret-key' }),
      });
      source.emit({ kind: 'file', taskUUID: r.taskUUID, file: '/tmp/x.mp4', item: { taskUUID: r.taskUUID, videoUUID: 'v1' } });
      await sleep(50);
      const msg = published[published.length - 1].data;
      assert.strictEqual(msg.failures[0].message, 'bad https://h/x?token=*** with ***');
      assert.strictEqual(msg.failures[0].code, 'validation');
      assert.strictEqual(registry.size, 1);
      f.remove();
      const bye = published[published.length - 1].data;
      assert.strictEqual(bye.removed, true);
      assert.deepStrictEqual(bye.gone, [r.taskUUID]);
      assert.strictEqual(registry.size, 0);
    });
  });

  describe('through real nodes (test helper, simulator)', function () {
    let sim;
    useHarness((s) => (sim = s));
    let dir;
    before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ovi-feed-'))));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));
    beforeEach(() => {
      sim.reset();
      sim.configure({ renderMs: 60, progress: true });
    });

    it('an idle account publishes nothing; 12 jobs at once publish a few coalesced messages, one per throttle period at most', async () => {
      const cap = capturePublishes();
      try {
        await load(pipeline(sim));
        await sleep(1200);
        assert.deepStrictEqual(cap.seen, [], 'nothing published while idle');
        assert.strictEqual(feedOf('cfg').pending, false, 'no timer while idle');
        const results = collector('results');
        let events = 0;
        helper.getNode('cfg').account.onJobEvent(() => events++);
        for (let i = 0; i < 12; i++) helper.getNode('submit').receive({ payload: 'burst ' + i });
        await results.next(12, 15000);
        await sleep(800);
        const pubs = cap.seen;
        assert.ok(pubs.length >= 1, 'published');
        assert.ok(pubs.length * 4 < events, pubs.length + ' publishes for ' + events + ' job events');
        for (let k = 1; k < pubs.length; k++) assert.ok(pubs[k].at - pubs[k - 1].at >= 250, 'one publish per 300 ms at most');
        const all = pubs.flatMap((p) => p.data.results);
        assert.strictEqual(new Set(all.map((r) => r.key)).size, 12, 'every result was published');
        assert.strictEqual(pubs[pubs.length - 1].data.inFlight, 0);
        assert.ok(!JSON.stringify(pubs).includes(KEY), 'the API key never reaches the editor');
        // and idle again
        const before = pubs.length;
        await sleep(700);
        assert.strictEqual(cap.seen.length, before);
        assert.strictEqual(feedOf('cfg').pending, false);
      } finally {
        cap.stop();
      }
    });

    it('GET /ovi/jobs: the snapshot; GET /ovi/media/:id serves a file result and nothing else', async () => {
      await load(pipeline(sim, { poll: { output: 'file', filePath: path.join(dir, '{{taskUUID}}-{{index}}.{{ext}}') } }));
      const results = collector('results');
      helper.getNode('submit').receive({ payload: 'to a file' });
      const [r] = await results.next(1, 10000);
      await sleep(50);
      const snap = (await helper.request().get('/ovi/jobs').expect(200)).body;
      assert.strictEqual(snap.accounts.length, 1);
      const acc = snap.accounts[0];
      assert.strictEqual(acc.id, 'cfg');
      assert.strictEqual(acc.full, true);
      // (results of earlier tests are there too: a config node stopped, not removed, keeps its history)
      const res = acc.results.find((x) => x.taskUUID === r.taskUUID);
      assert.ok(res, 'the result is listed');
      assert.match(res.media, /^[A-Za-z0-9_-]{22}$/);
      assert.ok(!JSON.stringify(snap).includes(dir), 'no path in the snapshot');
      const got = await helper
        .request()
        .get('/ovi/media/' + res.media)
        .buffer(true)
        .expect(200);
      assert.strictEqual(got.headers['content-type'], 'video/mp4');
      assert.strictEqual(got.headers['x-content-type-options'], 'nosniff');
      assert.ok(Buffer.from(got.body).equals(fs.readFileSync(r.filename)), 'the file as written');
      const part = await helper
        .request()
        .get('/ovi/media/' + res.media)
        .set('Range', 'bytes=0-99')
        .expect(206);
      assert.strictEqual(Number(part.headers['content-length']), 100);
      // any id not in the registry, and paths in every spelling, are unknown
      for (const p of [
        '/ovi/media/AAAAAAAAAAAAAAAAAAAAAA',
        '/ovi/media/' + encodeURIComponent(r.filename),
        '/ovi/media/..%2F..%2F..%2Fetc%2Fpasswd',
        '/ovi/media/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
        '/ovi/media/' + res.media + '%2F..%2F..%2Fetc%2Fpasswd',
        '/ovi/media/' + res.media.slice(0, 21),
      ]) {
        const a = await helper.request().get(p);
        assert.strictEqual(a.status, 404, p + ' answered ' + a.status);
      }
      const dots = await helper.request().get('/ovi/media/../../etc/passwd');
      assert.notStrictEqual(dots.status, 200);
      // the file gone (retention, a user): 404, not an error page
      fs.rmSync(r.filename);
      assert.strictEqual((await helper.request().get('/ovi/media/' + res.media)).status, 404);
    });

    it('POST /ovi/collect hands a timed-out task to the chosen ovi poll, whose result then shows in the feed', async () => {
      sim.configure({ renderMs: 1500 });
      await load([
        ...pipeline(sim, { poll: { timeout: 0.4 } }),
        pollNode({ id: 'later', timeout: 20, wires: [['collected']] }),
        { id: 'collected', type: 'helper' },
      ]);
      const errors = collector('errors');
      const collected = collector('collected');
      helper.getNode('submit').receive({ payload: 'slow' });
      const [e] = await errors.next(1, 5000);
      assert.strictEqual(e.error.code, 'timeout');
      const uuid = e.taskUUID || e.error.taskUUID;
      await sleep(400);
      const failures = feedOf('cfg')
        .snapshot()
        .failures.filter((f) => f.taskUUID === uuid);
      assert.strictEqual(failures.length, 1);
      assert.strictEqual(failures[0].code, 'timeout');
      assert.strictEqual(failures[0].taskUUID, uuid);
      // refused: a form post, a bad UUID, a node that is no ovi poll
      await helper.request().post('/ovi/collect').type('form').send({ poll: 'later', taskUUID: uuid }).expect(415);
      await helper.request().post('/ovi/collect').send({ poll: 'later', taskUUID: 'x' }).expect(400);
      await helper.request().post('/ovi/collect').send({ poll: 'submit', taskUUID: uuid }).expect(404);
      const ok = await helper.request().post('/ovi/collect').send({ poll: 'later', taskUUID: uuid, config: 'cfg' }).expect(200);
      assert.deepStrictEqual(ok.body, { ok: true, taskUUID: uuid, poll: 'later', config: 'cfg' });
      await sleep(300);
      const inFlight = feedOf('cfg').snapshot().jobs;
      assert.deepStrictEqual(
        inFlight.map((j) => [j.taskUUID, j.node]),
        [[uuid, 'later']],
        'the collected task shows in flight, owned by the chosen poll',
      );
      await helper.request().post('/ovi/collect').send({ poll: 'later', taskUUID: uuid }).expect(409);
      const [got] = await collected.next(1, 8000);
      assert.strictEqual(got.taskUUID, uuid);
      await sleep(400);
      const snap = feedOf('cfg').snapshot();
      assert.strictEqual(snap.jobs.length, 0);
      assert.deepStrictEqual(
        snap.results.filter((r) => r.taskUUID === uuid).map((r) => r.node),
        ['later'],
      );
    });

    it('a redeploy keeps the history; removing the config node publishes its removal', async () => {
      const flow = pipeline(sim);
      await load(flow);
      const results = collector('results');
      helper.getNode('submit').receive({ payload: 'keep me' });
      const [r] = await results.next(1, 10000);
      await sleep(400);
      const creds = { cfg: { apiKey: KEY } };
      const cap = capturePublishes();
      try {
        const renamed = flow.map((n) => (n.id === 'cfg' ? { ...n, name: 'renamed' } : n));
        await helper.setFlows(place(renamed), 'nodes', creds);
        await sleep(300);
        const snap = feedOf('cfg').snapshot();
        assert.strictEqual(snap.label, 'renamed');
        assert.ok(
          snap.results.some((x) => x.taskUUID === r.taskUUID),
          'the result survived the redeploy',
        );
        const before = media.size;
        const without = flow.filter((n) => n.type === 'helper');
        await helper.setFlows(place(without), 'full', {});
        await sleep(200);
        assert.strictEqual(feedOf('cfg'), undefined);
        assert.ok(
          cap.seen.some((p) => p.data.removed === true && p.topic === TOPIC_PREFIX + 'cfg'),
          'the editors hear of the removal',
        );
        assert.ok(media.size <= before);
      } finally {
        cap.stop();
      }
    });
  });
});
