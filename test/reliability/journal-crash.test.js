'use strict';
// Crash consistency of the job journal, in the spirit of SQLite's crash tests. A real Node-RED runs a
// load (12 tasks, 4 with images in side files, maxConcurrent 3) and is SIGKILLed; its journal is then
// damaged the ways crashes, full disks and bad sectors do: cut at every byte offset of its last
// records, bits flipped at seeded random offsets, records with each field of the wrong type, a null
// record, the 0.1.0 format, and journals that cannot be read at all. The store's load is checked for
// every case against an independent reading of the format (journal-support.js); then one real
// Node-RED starts on a sample of them at once (one config node and journal per case) and must stay
// up, deliver every undamaged task exactly once, fail each damaged one once through Catch, and name
// in its log what it skipped.
const assert = require('assert');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { devNodeRed, startNodeRed, request, collectorServer, deploy } = require('../support/real-node-red');
const { createSimulator } = require('../../dist/simulator/server.js');
const { FileStore } = require('../../dist/nodes/lib/job-store.js');
const { SEED, rng, sleep, pool, linkedUserDir, sigkill, restartFlow, report } = require('./support');
const { framed, model, norm, pngOf, installJournal, resumeFlow } = require('./journal-support');

const API_KEY = 'rel-journal-crash-key-4Kd9';
/** How many of the last records are cut at every offset (CUT_RECORDS=14 reaches back past acknowledgments). */
const CUT_RECORDS = Number(process.env.CUT_RECORDS || 4);

describe('reliability: journal crash consistency (cut, flipped, mistyped, old, unreadable)', function () {
  this.timeout(180000);
  const redJs = devNodeRed().redJs;
  let sim;
  let base; // the journal of the killed run: { file, bytes, model }
  let lab; // scratch directory for the damaged copies
  const dirs = [];

  before(async () => {
    const t0 = Date.now();
    sim = await createSimulator({ apiKeys: [API_KEY], renderMs: 2000 });
    lab = fs.mkdtempSync(path.join(os.tmpdir(), 'ovi-crash-lab-'));
    dirs.push(lab);
    const userDir = linkedUserDir('ovi-crash-base-');
    dirs.push(userDir);
    const red = await startNodeRed({ redJs, userDir });
    const collector = await collectorServer();
    try {
      await deploy(red, restartFlow({ prefix: 'base', endpoint: sim.url, collectorUrl: collector.url, apiKey: API_KEY, maxConcurrent: 3 }));
      for (let i = 0; i < 80; i++) {
        if ((await request('GET', red.url + '/rel/ready/base').catch(() => ({ status: 0 }))).status === 200) break;
        await sleep(250);
      }
      const uuids = Array.from({ length: 12 }, () => crypto.randomUUID());
      await pool(12, 4, async (i) => {
        const body = { positivePrompt: 'crash ' + i, taskUUID: uuids[i], seed: '9007199254740993' };
        if (i % 3 === 1) body.inputs = { image: 'data:image/png;base64,' + pngOf(6000).toString('base64') }; // a side file
        const r = await request('POST', red.url + '/rel/submit', { body });
        assert.strictEqual(r.status, 200, r.body);
      });
      // Kill once the first three have finished and the next three run: finished, running and queued tasks.
      const deadline = Date.now() + 30000;
      while ((collector.got['/result'] || []).length < 3 || uuids.filter((u) => sim.stats().acceptedByUUID[u]).length < 6) {
        if (Date.now() > deadline) throw new Error('the base run did not progress:\n' + red.log().slice(-3000));
        await sleep(100);
      }
      await sleep(300);
      await sigkill(red);
    } finally {
      await collector.close();
      await red.stop();
    }
    const file = path.join(userDir, '.ovi', 'jobs-base.cfg.json');
    const bytes = fs.readFileSync(file);
    base = { file, bytes, model: model(bytes) };
    const states = [...base.model.jobs.values()].map((j) => j.state);
    report('crash base', {
      journalBytes: bytes.length,
      lines: base.model.lines.length,
      live: base.model.jobs.size,
      queued: states.filter((s) => s === 'queued').length,
      running: states.filter((s) => s === 'running').length,
      sideFiles: fs.readdirSync(file.replace(/\.json$/, '.side')).length,
      baseRunS: ((Date.now() - t0) / 1000).toFixed(1),
    });
    assert.ok(base.model.jobs.size >= 6, 'tasks in flight at the kill');
    assert.ok(
      base.model.lines.some((l) => l.rec && l.rec.op === 'del'),
      'finished tasks in the journal',
    );
    assert.ok(
      [...base.model.jobs.values()].some((j) => j.wireRef),
      'side files in the journal',
    );
  });

  after(async () => {
    if (sim) await sim.close();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  let caseNo = 0;
  /** A fresh copy of the base journal with `bytes` as its content; resolves the store's report and the journal after load. */
  async function loadCopy(bytes, options) {
    const ovi = path.join(lab, 'c' + caseNo++, '.ovi');
    const file = installJournal(base.file, ovi, 'x', { bytes });
    const loaded = await new FileStore(file, options).load();
    const after = fs.existsSync(file) && fs.statSync(file).isFile() ? fs.readFileSync(file) : null;
    fs.rmSync(path.dirname(ovi), { recursive: true, force: true });
    return { loaded, after };
  }

  const loadedMap = (loaded) => new Map((loaded.state ? loaded.state.jobs : []).map((j) => [j.taskUUID, j]));

  it(
    'cut at every byte offset of its last ' + CUT_RECORDS + ' records: the load equals the complete records, the torn tail is reported and truncated',
    async () => {
      const lines = base.model.lines;
      const from = lines[Math.max(0, lines.length - CUT_RECORDS)].start;
      // The side files the killed run left: a cut back to before an acknowledgment finds that task's
      // side file already removed (removed only once the acknowledgment was saved, so a crash cannot
      // do this; a restored old journal can): the task must then be reported, not resumed.
      const sideLeft = new Set(fs.readdirSync(base.file.replace(/\.json$/, '.side')));
      let checked = 0;
      let rolledBack = 0;
      for (let cut = from; cut <= base.bytes.length; cut++) {
        const bytes = base.bytes.subarray(0, cut);
        const expected = model(bytes);
        const gone = [...expected.jobs.values()].filter((j) => [j.wireRef, j.msgRef].some((ref) => ref && !sideLeft.has(ref.file))).map((j) => j.taskUUID);
        for (const u of gone) expected.jobs.delete(u);
        rolledBack += gone.length ? 1 : 0;
        const { loaded, after } = await loadCopy(bytes);
        const got = loadedMap(loaded);
        const where = 'cut at byte ' + cut + ': ';
        assert.strictEqual(loaded.problem, undefined, where + loaded.problem);
        assert.deepStrictEqual([...got.keys()].sort(), [...expected.jobs.keys()].sort(), where + 'tasks');
        for (const [u, j] of expected.jobs) assert.strictEqual(norm(got.get(u)), norm(j), where + 'task ' + u);
        assert.strictEqual(loaded.state.costTotal, expected.costTotal, where + 'cost');
        const torn = expected.lines.some((l) => l.torn);
        assert.deepStrictEqual(
          loaded.skipped.filter((s) => !s.taskUUID).map((s) => /^torn tail/.test(s.reason)),
          torn ? [true] : [],
          where + JSON.stringify(loaded.skipped),
        );
        assert.deepStrictEqual(
          loaded.skipped
            .filter((s) => s.taskUUID)
            .map((s) => s.taskUUID + (/^side file .* is missing/.test(s.reason) ? '' : ' ' + s.reason))
            .sort(),
          gone.sort(),
          where + 'tasks whose side file is gone are reported',
        );
        const intactEnd = torn ? expected.lines[expected.lines.length - 1].start : cut;
        assert.strictEqual(after.length, intactEnd, where + 'truncated to the last whole record');
        checked++;
      }
      report('cut', { offsets: checked, records: CUT_RECORDS, lines: lines.length, cutsBeforeAnAcknowledgedImage: rolledBack });
    },
  );

  it('bits flipped at 300 seeded random offsets: always detected, never parsed as truth, the other tasks unchanged', async () => {
    const r = rng(SEED);
    const versions = new Map(); // every job version an intact record holds
    for (const l of base.model.lines)
      if (l.rec && l.rec.op === 'put') (versions.get(l.uuid) || versions.set(l.uuid, new Set()).get(l.uuid)).add(norm(l.rec.job));
    let attributed = 0;
    for (let n = 0; n < 300; n++) {
      const at = r.int(0, base.bytes.length - 1);
      const bytes = Buffer.from(base.bytes);
      bytes[at] ^= 1 << r.int(0, 7);
      const { loaded } = await loadCopy(bytes);
      const where = 'bit flipped at byte ' + at + ' (seed ' + SEED + ', flip ' + n + '): ';
      // The lines the flip touched (its own, and the next one when it hit the newline between them).
      const touched = base.model.lines.filter((l) => at >= l.start && at <= l.end);
      if (touched.length && at === touched[0].end) touched.push(base.model.lines[base.model.lines.indexOf(touched[0]) + 1]);
      const touchedTasks = new Set(touched.filter(Boolean).map((l) => l.uuid));
      assert.ok(loaded.skipped.length >= 1, where + 'not detected');
      const got = loadedMap(loaded);
      if (loaded.problem) {
        // The only record unreadable: set aside as a whole, nothing resumed.
        assert.match(loaded.problem, /holds no record that can be read|newer version/, where);
        continue;
      }
      for (const [u, j] of base.model.jobs) if (!touchedTasks.has(u)) assert.strictEqual(norm(got.get(u)), norm(j), where + 'untouched task ' + u);
      for (const [u, j] of got) {
        const intact = versions.get(u);
        assert.ok(intact && intact.has(norm(j)), where + 'task ' + u + ' loaded in a state no intact record holds');
      }
      if (loaded.skipped.some((s) => s.taskUUID)) attributed++;
    }
    report('flips', { flips: 300, seed: SEED, namingTheirTask: attributed });
  });

  /** The base journal with its last put of a live task replaced (framed with a valid checksum, so only validation can tell). */
  function withLastPutOf(uuid, change) {
    const l = [...base.model.lines].reverse().find((x) => x.rec && x.rec.op === 'put' && x.uuid === uuid);
    const job = JSON.parse(JSON.stringify(l.rec.job));
    change(job);
    return Buffer.concat([base.bytes.subarray(0, l.start), Buffer.from(framed({ op: 'put', job })), base.bytes.subarray(l.end + 1)]);
  }

  const liveQueued = () => [...base.model.jobs.values()].find((j) => j.state === 'queued' && j.wire);
  const liveRunning = () => [...base.model.jobs.values()].find((j) => j.state === 'running');

  const WRONG = {
    taskUUID: 7,
    numberResults: 'one',
    outputFormat: 3,
    via: 'fax',
    msg: [],
    createdAt: 'yesterday',
    deadline: null,
    delivered: [1],
    ownerId: 5,
    submitterId: {},
    pollFrom: 'soon',
    state: 'done',
    resumed: 'yes',
  };

  it('a record with each field of the wrong type, a null record, a bad seed or an unparsable task: only that task is skipped, with its reason', async () => {
    const q = liveQueued();
    const cases = Object.entries(WRONG).map(([field, value]) => [field, liveRunning().taskUUID, (j) => (j[field] = value)]);
    cases.push(['seed', q.taskUUID, (j) => (j.wire = JSON.stringify({ ...JSON.parse(j.wire), seed: '12ab' }))]);
    cases.push(['wire', q.taskUUID, (j) => (j.wire = '{"taskUUID":')]);
    for (const [field, uuid, change] of cases) {
      const { loaded } = await loadCopy(withLastPutOf(uuid, change));
      const expected = new Map(base.model.jobs);
      expected.delete(uuid);
      const got = loadedMap(loaded);
      assert.deepStrictEqual([...got.keys()].sort(), [...expected.keys()].sort(), field);
      assert.strictEqual(loaded.skipped.length, 1, field + ': ' + JSON.stringify(loaded.skipped));
      assert.strictEqual(loaded.skipped[0].taskUUID, uuid, field + ' (a wrong taskUUID: the one in its msg snapshot names it)');
      assert.match(loaded.skipped[0].reason, new RegExp(field), field);
    }
    // null records, framed and unframed, in the middle: skipped, nothing else changes.
    const mid = base.model.lines[Math.floor(base.model.lines.length / 2)].start;
    const { loaded } = await loadCopy(Buffer.concat([base.bytes.subarray(0, mid), Buffer.from(framed(null) + 'null\n'), base.bytes.subarray(mid)]));
    assert.deepStrictEqual([...loadedMap(loaded).keys()].sort(), [...base.model.jobs.keys()].sort());
    assert.strictEqual(loaded.skipped.length, 2);
    report('mistyped', { fields: cases.length, nullRecords: 2 });
  });

  it('the 0.1.0 format (plain JSON lines, the task inline) loads the same state', async () => {
    const { loaded } = await loadCopy(base.bytes); // the state with side files read
    const old = oldFormat(loaded.state);
    const again = await loadCopy(old);
    assert.deepStrictEqual(again.loaded.skipped, []);
    assert.deepStrictEqual(again.loaded.state.jobs.map(norm).sort(), loaded.state.jobs.map(norm).sort());
  });

  /** The 0.1.0 writer's output for a state: a snapshot line, then a put and a cost op. */
  function oldFormat(state) {
    const [first, ...rest] = state.jobs;
    return Buffer.from(
      [
        JSON.stringify({ version: 1, jobs: rest, costTotal: 0 }),
        JSON.stringify({ op: 'put', job: first }),
        JSON.stringify({ op: 'cost', total: state.costTotal }),
      ].join('\n') + '\n',
    );
  }

  it('a real Node-RED starts on a sample of them at once, stays up, delivers each undamaged task once, fails each damaged one once, names what it skipped', async () => {
    const r = rng(SEED + 1);
    const lines = base.model.lines;
    const last = lines[lines.length - 1];
    const queuedPut = [...lines].reverse().find((l) => l.rec && l.rec.op === 'put' && l.rec.job.state === 'queued' && l.rec.job.wireRef);
    const flipped = (at) => {
      const b = Buffer.from(base.bytes);
      b[at] ^= 0x10;
      return b;
    };
    const q = liveQueued();
    const cases = {
      cutBoundary: base.bytes.subarray(0, last.start),
      cutLast: base.bytes.subarray(0, last.start + Math.floor((last.end - last.start) / 2)),
      // Cut back to before two image tasks were acknowledged: their side files are gone (removed once
      // the acknowledgment was saved), so no crash makes this; a restored old journal does.
      cutEarly: base.bytes.subarray(0, queuedPut.start + 40),
      flipA: flipped(r.int(0, base.bytes.length - 1)),
      flipB: flipped(queuedPut.start + 60),
      badSeed: withLastPutOf(q.taskUUID, (j) => (j.wire = JSON.stringify({ ...JSON.parse(j.wire), seed: 'not digits' }))),
      badWire: withLastPutOf(liveRunning().taskUUID, (j) => (j.wire = '{"taskUUID": "cut')),
      nullAndMistyped: Buffer.concat([withLastPutOf(liveRunning().taskUUID, (j) => (j.delivered = 'v1')), Buffer.from(framed(null))]),
      oldFormat: null, // filled below
      aDirectory: 'dir',
      garbage: crypto.randomBytes(20000),
      overTheCap: 'sparse',
    };
    cases.oldFormat = oldFormat((await loadCopy(base.bytes)).loaded.state);

    const userDir = linkedUserDir('ovi-crash-run-');
    dirs.push(userDir);
    const ovi = path.join(userDir, '.ovi');
    const collector = await collectorServer();
    const expected = {};
    const flows = [];
    for (const [id, bytes] of Object.entries(cases)) {
      flows.push(...resumeFlow(id, { endpoint: sim.url, collectorUrl: collector.url }));
      const file = path.join(ovi, 'jobs-' + id + '.cfg.json');
      if (bytes === 'dir') {
        fs.mkdirSync(file, { recursive: true });
        expected[id] = { live: [], failed: [], problem: /is not a file \(it is a directory\).*renamed aside/ };
        continue;
      }
      if (bytes === 'sparse') {
        fs.mkdirSync(ovi, { recursive: true });
        fs.closeSync(fs.openSync(file, 'w'));
        fs.truncateSync(file, 1100 * 1024 * 1024);
        expected[id] = { live: [], failed: [], problem: /over the 1024\.0 MiB a journal may have.*renamed aside/ };
        continue;
      }
      installJournal(base.file, ovi, id + '.cfg', { bytes });
      if (id === 'garbage') {
        expected[id] = { live: [], failed: [], problem: /holds no record that can be read.*renamed aside/ };
        continue;
      }
      const probe = await new FileStore(file, { readOnly: true }).load(); // what the store will report: checked above against the model
      expected[id] = {
        live: probe.state.jobs.map((j) => j.taskUUID).sort(),
        failed: [...new Set(probe.skipped.filter((s) => s.taskUUID).map((s) => s.taskUUID))].sort(),
        skipped: probe.skipped.map((s) => s.where),
      };
    }
    fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flows));
    const red = await startNodeRed({ redJs, userDir, env: { RUNWARE_API_KEY: API_KEY } });
    const started = Date.now();
    try {
      const outcomes = (id) => ({ results: collector.got['/result/' + id] || [], errors: collector.got['/error/' + id] || [] });
      const settled = () =>
        Object.entries(expected).every(([id, e]) => outcomes(id).results.length + outcomes(id).errors.length >= e.live.length + e.failed.length);
      for (const until = Date.now() + 60000; !settled() && Date.now() < until;) await sleep(200);
      await sleep(2500); // duplicates would show up now
      const log = red.log();
      assert.strictEqual(red.child.exitCode, null, 'Node-RED is still running:\n' + log.slice(-3000));
      assert.strictEqual((await request('GET', red.adminUrl + '/settings')).status, 200, 'the admin API answers');
      const rows = {};
      for (const [id, e] of Object.entries(expected)) {
        const { results, errors } = outcomes(id);
        const count = {};
        for (const b of results) count[b.taskUUID] = (count[b.taskUUID] || 0) + 1;
        const failedUuids = errors.map((x) => x.taskUUID).sort();
        rows[id] = e.live.length + ' live / ' + results.length + ' results, ' + e.failed.length + ' damaged / ' + errors.length + ' failures';
        const what = id + ': ';
        assert.deepStrictEqual(Object.keys(count).sort(), e.live, what + 'the undamaged tasks deliver');
        assert.ok(
          Object.values(count).every((c) => c === 1),
          what + 'each exactly once: ' + JSON.stringify(count),
        );
        assert.deepStrictEqual(failedUuids, e.failed, what + 'each damaged task fails once through Catch: ' + JSON.stringify(errors));
        for (const x of errors) {
          assert.strictEqual(x.code, 'protocol', what + JSON.stringify(x));
          assert.match(x.message, /could not be resumed after a restart: its saved record is damaged \(.+\); it may still be running at Runware/);
        }
        const own = log.split('\n').filter((l) => l.includes('[ovi-config:' + id + ']'));
        if (e.problem) {
          assert.ok(
            own.some((l) => /JOB STORE PROBLEM/.test(l) && e.problem.test(l)),
            what + 'a loud problem in the log:\n' + own.join('\n'),
          );
          assert.ok(
            fs.readdirSync(ovi).some((n) => n.startsWith('jobs-' + id + '.cfg.json.unreadable-')),
            what + 'renamed aside',
          );
          assert.strictEqual((await request('GET', red.adminUrl + '/ovi/cost/' + id + '.cfg')).status, 200, what + 'the config node runs');
        } else {
          for (const w of e.skipped)
            assert.ok(
              own.some((l) => l.includes('skipped a saved record (' + w)),
              what + 'the log names ' + w + ':\n' + own.join('\n'),
            );
          if (e.skipped.length)
            assert.ok(
              own.some((l) => new RegExp(e.skipped.length + ' saved record\\(s\\) .* skipped').test(l)),
              what + 'a summary count',
            );
        }
      }
      report('real Node-RED on damaged journals', { journals: Object.keys(cases).length, settleS: ((Date.now() - started) / 1000).toFixed(1) });
      for (const [id, row] of Object.entries(rows)) console.log('        ' + id.padEnd(16) + row);
    } catch (e) {
      console.log('--- Node-RED log ---\n' + red.log().slice(-6000));
      throw e;
    } finally {
      await red.stop();
      await collector.close();
    }
  });
});
