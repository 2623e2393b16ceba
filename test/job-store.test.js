'use strict';
// The durable job store: an append-only journal that survives a crash mid-append, compacts, and
// group-commits bursts of changes.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { FileStore, Persister } = require('../dist/nodes/lib/job-store.js');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function job(i) {
  return {
    taskUUID: 'uuid-' + i,
    numberResults: 1,
    outputFormat: 'MP4',
    via: 'poll',
    msg: { topic: 't' + i },
    createdAt: 1,
    deadline: 2,
    delivered: [],
    state: 'running',
  };
}

describe('job store (journal)', () => {
  let dir;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ovi-store-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function persisterOver(store, jobs, costRef = { total: 0 }) {
    return new Persister(
      store,
      (u) => jobs.get(u),
      () => costRef.total,
      { snapshot: () => ({ version: 1, jobs: [...jobs.values()], costTotal: costRef.total }), live: () => jobs.size },
      (e) => {
        throw e;
      },
    );
  }

  it('round-trips puts, deletes and the cost total', async () => {
    const file = path.join(dir, 'jobs.json');
    const jobs = new Map([1, 2, 3].map((i) => [job(i).taskUUID, job(i)]));
    const cost = { total: 0.5 };
    const p = persisterOver(new FileStore(file), jobs, cost);
    await Promise.all([...jobs.keys()].map((u) => p.persist(u)));
    jobs.delete('uuid-2');
    await p.persist('uuid-2');
    await p.persist();
    const loaded = (await new FileStore(file).load()).state;
    assert.deepStrictEqual(loaded.jobs.map((j) => j.taskUUID).sort(), ['uuid-1', 'uuid-3']);
    assert.strictEqual(loaded.costTotal, 0.5);
  });

  it('a line cut short by a crash loses nothing written before it', async () => {
    const file = path.join(dir, 'jobs.json');
    const jobs = new Map([[job(1).taskUUID, job(1)]]);
    await persisterOver(new FileStore(file), jobs).persist('uuid-1');
    fs.appendFileSync(file, '{"op":"put","job":{"taskUUID":"uuid-9"');
    const loaded = (await new FileStore(file).load()).state;
    assert.deepStrictEqual(
      loaded.jobs.map((j) => j.taskUUID),
      ['uuid-1'],
    );
  });

  it('group commit: 1,000 concurrent changes take a handful of writes', async () => {
    const file = path.join(dir, 'jobs.json');
    const jobs = new Map();
    for (let i = 0; i < 1000; i++) jobs.set(job(i).taskUUID, job(i));
    const p = persisterOver(new FileStore(file), jobs);
    await Promise.all([...jobs.keys()].map((u) => p.persist(u)));
    console.log('      1000 changes → ' + p.stats.writes + ' writes');
    assert.ok(p.stats.writes <= 5, 'writes: ' + p.stats.writes);
    assert.strictEqual((await new FileStore(file).load()).state.jobs.length, 1000);
  });

  it('compacts a journal that is mostly history into one snapshot line', async () => {
    const file = path.join(dir, 'jobs.json');
    const jobs = new Map();
    const p = persisterOver(new FileStore(file), jobs);
    for (let i = 0; i < 1500; i++) {
      jobs.set('uuid-' + i, job(i));
      await p.persist('uuid-' + i);
      jobs.delete('uuid-' + i);
      await p.persist('uuid-' + i);
    }
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n').length;
    assert.ok(lines < 1100, 'compacted: ' + lines + ' lines');
    assert.strictEqual((await new FileStore(file).load()).state.jobs.length, 0);
  });
});

// ---------------------------------------------------------------- damage, format, side files, disks

const zlib = require('zlib');
const { validateJob, costProblem } = require('../dist/nodes/lib/job-validate.js');
const { ContextStore, MAX_RECORD_BYTES } = require('../dist/nodes/lib/job-store.js');

/** A taskUUID shaped like the real ones (a damaged record is matched to its task by this shape). */
const U = (i) => '00000000-0000-4000-8000-' + String(i).padStart(12, '0');

function liveJob(i, extra = {}) {
  return {
    taskUUID: U(i),
    numberResults: 1,
    outputFormat: 'MP4',
    via: 'poll',
    msg: { topic: 't' + i },
    createdAt: 1000,
    deadline: 2000,
    delivered: [],
    state: 'queued',
    wire: JSON.stringify({ taskType: 'videoInference', taskUUID: U(i), positivePrompt: 'p' + i, seed: '12345678901234567890' }),
    ...extra,
  };
}

/** A journal line written the way format 2 frames it (checked independently of the code under test). */
function framed(record) {
  const json = Buffer.from(JSON.stringify(record));
  return (zlib.crc32(json) >>> 0).toString(16).padStart(8, '0') + ' ' + json.toString() + '\n';
}

function persisterFor(store, jobs, costRef = { total: 0 }, onError = () => {}, options) {
  return new Persister(
    store,
    (u) => jobs.get(u),
    () => costRef.total,
    { snapshot: () => ({ version: 1, jobs: [...jobs.values()], costTotal: costRef.total }), live: () => jobs.size },
    onError,
    options,
  );
}

const mode = (p) => fs.statSync(p).mode & 0o777;
const uuidsOf = (report) => (report.state ? report.state.jobs.map((j) => j.taskUUID).sort() : []);

describe('saved records are untrusted (validateJob)', () => {
  it('a valid job passes; unknown extra fields are dropped silently', () => {
    const r = validateJob({ ...liveJob(1), ownerId: 'n1', pollFrom: 5, resumed: false, fromTheFuture: { x: 1 } });
    assert.strictEqual(r.ok, true, r.reason);
    assert.strictEqual(r.job.fromTheFuture, undefined);
    assert.strictEqual(r.job.ownerId, 'n1');
    assert.strictEqual(r.job.wire, liveJob(1).wire);
  });

  const wrong = {
    numberResults: ['2', 0, 5, 1.5],
    outputFormat: [3, null],
    via: ['fax', null],
    msg: [[], 'm', null],
    createdAt: ['1', NaN, null],
    deadline: [Infinity, {}],
    delivered: ['v', [1], null],
    ownerId: [5, ''],
    submitterId: [false],
    pollFrom: ['x'],
    state: ['done', 1],
    wire: [
      7,
      '{"taskUUID":',
      '[1]',
      JSON.stringify({ taskUUID: U(9) }),
      JSON.stringify({ taskUUID: U(1), seed: 'abc' }),
      JSON.stringify({ taskUUID: U(1), seed: 1.5 }),
      JSON.stringify({ taskUUID: U(1), seed: true }),
    ],
    resumed: ['yes'],
  };
  for (const [field, values] of Object.entries(wrong)) {
    it('a wrong ' + field + ' is refused with a reason naming it, and the taskUUID', () => {
      for (const value of values) {
        const r = validateJob({ ...liveJob(1), [field]: value });
        assert.strictEqual(r.ok, false, field + '=' + JSON.stringify(value) + ' passed');
        assert.strictEqual(r.taskUUID, U(1));
        assert.match(r.reason, field === 'wire' ? /wire|seed/ : new RegExp(field), r.reason);
      }
    });
  }

  it('a record that is not a job (null, an array, a string, no taskUUID) is refused without a taskUUID', () => {
    for (const v of [null, [], 'job', 42, { ...liveJob(1), taskUUID: 7 }]) {
      const r = validateJob(v);
      assert.strictEqual(r.ok, false);
      assert.strictEqual(r.taskUUID, undefined);
    }
  });

  it('seeds: digit strings and safe integers pass', () => {
    for (const seed of ['0', '9223372036854775807', 42, undefined])
      assert.strictEqual(validateJob(liveJob(1, { wire: JSON.stringify({ taskUUID: U(1), seed }) })).ok, true);
  });

  it('the cost total must be finite, >= 0 and plausible', () => {
    for (const bad of [NaN, -1, 1e12, '5', null, Infinity]) assert.ok(costProblem(bad), String(bad));
    for (const ok of [0, 12.5, 999999]) assert.strictEqual(costProblem(ok), undefined);
  });
});

describe('job journal: damage is skipped, counted and reported', () => {
  let dir;
  let file;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ovi-journal-'));
    file = path.join(dir, '.ovi', 'jobs-cfg.json');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const write = (text) => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  };

  it('a null record and a wrong-typed record are skipped; every record after them still loads', async () => {
    write(
      framed({ op: 'put', job: liveJob(1) }) +
        framed(null) +
        framed({ op: 'put', job: { ...liveJob(2), numberResults: 'two' } }) +
        'null\n' +
        framed({ op: 'put', job: liveJob(3) }) +
        framed({ op: 'cost', total: 0.5 }),
    );
    const report = await new FileStore(file).load();
    assert.deepStrictEqual(uuidsOf(report), [U(1), U(3)]);
    assert.strictEqual(report.state.costTotal, 0.5);
    assert.deepStrictEqual(
      report.skipped.map((s) => [s.where, s.taskUUID]),
      [
        ['line 2', undefined],
        ['line 3', U(2)],
        ['line 4', undefined],
      ],
    );
    assert.match(report.skipped[1].reason, /numberResults is the string "two"/);
  });

  it('a flipped byte is a checksum mismatch: the record is skipped and its task reported, never parsed as truth', async () => {
    const lines = [
      framed({ op: 'put', job: liveJob(1) }),
      framed({ op: 'put', job: liveJob(2) }),
      framed({ op: 'put', job: { ...liveJob(2), state: 'running' } }),
    ];
    // 'queued' → 'queuee' in task 2's first record, which still parses as JSON: only the checksum tells.
    lines[1] = lines[1].replace('"state":"queued"', '"state":"queuee"');
    write(lines.join(''));
    let report = await new FileStore(file).load();
    assert.deepStrictEqual(uuidsOf(report), [U(1), U(2)], 'the later intact record of task 2 supersedes the damaged one');
    assert.strictEqual(report.skipped.length, 1);
    assert.strictEqual(report.skipped[0].taskUUID, undefined, 'superseded: nothing to fail');
    assert.match(report.skipped[0].reason, /checksum mismatch.*superseded/);

    // The damage in the last record of a task: its state is unknown, so it is reported, not resumed.
    write([lines[0], framed({ op: 'put', job: liveJob(2) }), framed({ op: 'put', job: { ...liveJob(2), delivered: ['v1'] } }).replace('v1', 'v2')].join(''));
    report = await new FileStore(file).load();
    assert.deepStrictEqual(uuidsOf(report), [U(1)]);
    assert.deepStrictEqual(
      report.skipped.map((s) => [s.where, s.taskUUID]),
      [['line 3', U(2)]],
    );
    assert.match(report.skipped[0].reason, /the journal as it was is kept in .*\.damaged-/);
    const copies = fs.readdirSync(path.dirname(file)).filter((n) => n.includes('.damaged-'));
    assert.strictEqual(copies.length, 2, 'one copy per load that found damage');
    assert.strictEqual(mode(path.join(path.dirname(file), copies[0])), 0o600);
  });

  it('a torn tail is truncated at load: the next record is not glued to it, a finished task stays finished', async () => {
    const jobs = new Map([[U(1), liveJob(1)]]);
    await persisterFor(new FileStore(file), jobs).persist(U(1));
    const intact = fs.statSync(file).size;
    fs.appendFileSync(file, framed({ op: 'del', taskUUID: U(1) }).slice(0, 30)); // the crash
    const store = new FileStore(file);
    const report = await store.load();
    assert.deepStrictEqual(uuidsOf(report), [U(1)], 'the delete was never confirmed: the task is still in flight');
    assert.strictEqual(report.skipped.length, 1);
    assert.match(report.skipped[0].reason, /torn tail/);
    assert.strictEqual(report.skipped[0].taskUUID, undefined);
    assert.strictEqual(fs.statSync(file).size, intact, 'truncated to the last whole record');
    // After the restart the task finishes: its delete must not be lost to a glued line.
    jobs.delete(U(1));
    jobs.set(U(2), liveJob(2));
    const p = persisterFor(store, jobs);
    await Promise.all([p.persist(U(1)), p.persist(U(2))]);
    const again = await new FileStore(file).load();
    assert.deepStrictEqual(uuidsOf(again), [U(2)]);
    assert.deepStrictEqual(again.skipped, []);
  });

  it('a store that writes without loading first starts on a new line after a torn tail', async () => {
    write(framed({ op: 'put', job: liveJob(1) }) + framed({ op: 'put', job: liveJob(2) }).slice(0, 40));
    const jobs = new Map([[U(3), liveJob(3)]]);
    await persisterFor(new FileStore(file), jobs).persist(U(3));
    const report = await new FileStore(file).load();
    assert.deepStrictEqual(uuidsOf(report), [U(1), U(3)]);
    assert.strictEqual(report.skipped.length, 1, JSON.stringify(report.skipped));
  });

  it('reads a 0.1.0 journal (plain JSON lines) and upgrades it to format 2 at the next write', async () => {
    const old = [
      JSON.stringify({ version: 1, jobs: [liveJob(1), null, liveJob(2)], costTotal: 1.25 }),
      JSON.stringify({ op: 'put', job: { ...liveJob(3), state: 'running', wire: undefined } }),
      JSON.stringify({ op: 'del', taskUUID: U(2) }),
      JSON.stringify({ op: 'cost', total: 1.5 }),
    ];
    write(old.join('\n') + '\n');
    const store = new FileStore(file);
    const report = await store.load();
    assert.deepStrictEqual(uuidsOf(report), [U(1), U(3)]);
    assert.strictEqual(report.state.costTotal, 1.5);
    assert.deepStrictEqual(
      report.skipped.map((s) => s.where),
      ['line 1 (job 2 of the snapshot)'],
    );
    const jobs = new Map(report.state.jobs.map((j) => [j.taskUUID, j]));
    jobs.set(U(4), liveJob(4));
    await persisterFor(store, jobs, { total: 1.5 }).persist(U(4));
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    assert.ok(
      lines.every((l) => /^[0-9a-f]{8} \{/.test(l)),
      'every line framed with a checksum: ' + lines.map((l) => l.slice(0, 12)).join(' | '),
    );
    const upgraded = await new FileStore(file).load();
    assert.deepStrictEqual(uuidsOf(upgraded), [U(1), U(3), U(4)]);
    assert.deepStrictEqual(upgraded.skipped, []);
    assert.strictEqual(upgraded.state.jobs.find((j) => j.taskUUID === U(1)).wire, liveJob(1).wire);
  });

  it('a record too long to read is skipped unread; the tasks named in it are reported, the rest load', async () => {
    const big = { ...liveJob(5), msg: { blob: 'x'.repeat(300000) } };
    write(JSON.stringify({ op: 'put', job: big }) + '\n' + framed({ op: 'put', job: liveJob(6) }));
    const report = await new FileStore(file, { maxLineBytes: 100000 }).load();
    assert.deepStrictEqual(uuidsOf(report), [U(6)]);
    assert.deepStrictEqual(
      report.skipped.map((s) => s.taskUUID),
      [U(5)],
    );
    assert.match(report.skipped[0].reason, /over the limit of 100000/);
  });

  it('a bad cost total is reported and the previous valid one stands', async () => {
    write(framed({ op: 'cost', total: 2 }) + framed({ op: 'cost', total: -3 }) + framed({ op: 'cost', total: 1e300 }));
    const report = await new FileStore(file).load();
    assert.strictEqual(report.state.costTotal, 2);
    assert.strictEqual(report.skipped.length, 2);
  });

  it('a context store: a null job and a bad cost are skipped and reported, the rest load', async () => {
    const value = { version: 1, jobs: [liveJob(1), null, { ...liveJob(2), via: 'fax' }], costTotal: 'lots' };
    const context = { get: (k, s, cb) => cb(null, value), set: (k, v, s, cb) => cb() };
    const report = await new ContextStore(context, 'disk', 'ovi-jobs').load();
    assert.deepStrictEqual(uuidsOf(report), [U(1)]);
    assert.strictEqual(report.state.costTotal, 0);
    assert.deepStrictEqual(
      report.skipped.map((s) => s.taskUUID),
      [undefined, U(2), undefined],
    );
    const failing = await new ContextStore({ get: (k, s, cb) => cb(new Error('redis down')) }, 'redis', 'ovi-jobs').load();
    assert.match(failing.problem, /redis down/);
  });
});

describe('job journal: large fields in side files, compaction by size', () => {
  let dir;
  let file;
  let sideDir;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ovi-side-'));
    file = path.join(dir, '.ovi', 'jobs-cfg.json');
    sideDir = path.join(dir, '.ovi', 'jobs-cfg.side');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const imageWire = (i, bytes) =>
    JSON.stringify({ taskType: 'videoInference', taskUUID: U(i), inputs: { image: 'data:image/png;base64,' + Buffer.alloc(bytes, i).toString('base64') } });
  const sideFiles = () => (fs.existsSync(sideDir) ? fs.readdirSync(sideDir).sort() : []);

  it('an image task is written once to a side file (0600), never into a journal line; removed when the wire is cleared or the job deleted', async () => {
    const jobs = new Map();
    const store = new FileStore(file);
    await store.load();
    const p = persisterFor(store, jobs);
    for (let i = 1; i <= 3; i++) jobs.set(U(i), liveJob(i, { wire: imageWire(i, 3_000_000), msg: { topic: 't', blob: 'b'.repeat(20000) } }));
    await Promise.all([...jobs.keys()].map((u) => p.persist(u)));
    // Two more changes of task 1 (state, owner): its side files are reused, not rewritten.
    const writtenAt = fs.statSync(
      path.join(
        sideDir,
        sideFiles().find((n) => n.startsWith(U(1)) && n.includes('.wire.')),
      ),
    ).mtimeMs;
    jobs.set(U(1), { ...jobs.get(U(1)), state: 'submitting' });
    await p.persist(U(1));
    jobs.set(U(1), { ...jobs.get(U(1)), ownerId: 'poll1' });
    await p.persist(U(1));
    assert.strictEqual(sideFiles().length, 6, sideFiles().join(', '));
    assert.strictEqual(
      fs.statSync(
        path.join(
          sideDir,
          sideFiles().find((n) => n.startsWith(U(1)) && n.includes('.wire.')),
        ),
      ).mtimeMs,
      writtenAt,
    );
    const journal = fs.readFileSync(file, 'utf8');
    const longest = Math.max(...journal.split('\n').map((l) => Buffer.byteLength(l)));
    assert.ok(longest < MAX_RECORD_BYTES, 'longest line ' + longest);
    assert.ok(journal.length < 5000, 'journal ' + journal.length + ' bytes for 3 image jobs');
    for (const n of sideFiles()) assert.strictEqual(mode(path.join(sideDir, n)), 0o600);
    assert.strictEqual(mode(sideDir), 0o700);

    const report = await new FileStore(file).load();
    assert.deepStrictEqual(report.skipped, []);
    assert.strictEqual(report.state.jobs.find((j) => j.taskUUID === U(2)).wire, imageWire(2, 3_000_000));
    assert.strictEqual(report.state.jobs.find((j) => j.taskUUID === U(2)).msg.blob.length, 20000);

    jobs.set(U(1), { ...jobs.get(U(1)), state: 'running', wire: undefined }); // acknowledged
    jobs.delete(U(2)); // finished
    await Promise.all([p.persist(U(1)), p.persist(U(2))]);
    assert.deepStrictEqual(
      sideFiles().map((n) => n.split('.').slice(0, 2).join('.')),
      [U(1) + '.msg', U(3) + '.msg', U(3) + '.wire'],
    );
  });

  it('a damaged or missing side file fails only its own task, reported with the file name', async () => {
    const jobs = new Map([1, 2, 3].map((i) => [U(i), liveJob(i, { wire: imageWire(i, 10000) })]));
    const p = persisterFor(new FileStore(file), jobs);
    await Promise.all([...jobs.keys()].map((u) => p.persist(u)));
    const wireOf = (i) =>
      path.join(
        sideDir,
        sideFiles().find((n) => n.startsWith(U(i))),
      );
    const damaged = fs.readFileSync(wireOf(1));
    damaged[500] ^= 0x04;
    fs.writeFileSync(wireOf(1), damaged);
    fs.unlinkSync(wireOf(2));
    const report = await new FileStore(file).load();
    assert.deepStrictEqual(uuidsOf(report), [U(3)]);
    assert.deepStrictEqual(report.skipped.map((s) => s.taskUUID).sort(), [U(1), U(2)]);
    assert.ok(report.skipped.every((s) => /^side file .*\.wire\.[0-9a-f]{8}\.json$/.test(s.where)));
    assert.match(report.skipped.map((s) => s.reason).join(' | '), /damaged \(checksum mismatch\).*\| .*is missing|is missing.*\|.*damaged/);
  });

  it('side files no record refers to (a crash between two steps) and temp files are removed at load', async () => {
    const jobs = new Map([[U(1), liveJob(1, { wire: imageWire(1, 10000) })]]);
    await persisterFor(new FileStore(file), jobs).persist(U(1));
    fs.writeFileSync(path.join(sideDir, U(7) + '.wire.0badc0de.json'), 'orphan');
    fs.writeFileSync(path.join(sideDir, U(8) + '.wire.0badc0de.json.1234abcd.tmp'), 'half');
    fs.writeFileSync(file + '.deadbeef.tmp', 'a compaction cut short');
    fs.writeFileSync(path.join(sideDir, 'README.txt'), 'not ours: left alone');
    const report = await new FileStore(file).load();
    assert.deepStrictEqual(uuidsOf(report), [U(1)]);
    assert.deepStrictEqual(
      sideFiles().map((n) => n.slice(0, 41)),
      [U(1) + '.wire', 'README.txt'],
    );
    assert.ok(!fs.existsSync(file + '.deadbeef.tmp'));
  });

  it('compacts by bytes as well as by lines: large inline msgs do not grow the journal without bound', async () => {
    const jobs = new Map();
    const p = persisterFor(new FileStore(file), jobs);
    let largest = 0;
    for (let i = 0; i < 400; i++) {
      jobs.set(U(i), liveJob(i, { msg: { note: 'n'.repeat(3500) } })); // under the inline limit: in the journal
      await p.persist(U(i));
      jobs.delete(U(i));
      await p.persist(U(i));
      largest = Math.max(largest, fs.statSync(file).size);
    }
    console.log('      800 changes of 3.5 KB jobs → journal at most ' + largest + ' bytes');
    assert.ok(largest < 1.5 * 1024 * 1024, 'largest ' + largest);
  });
});

describe('job journal: unreadable journals are renamed aside, never replaced', () => {
  let dir;
  let file;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ovi-aside-'));
    file = path.join(dir, '.ovi', 'jobs-cfg.json');
    fs.mkdirSync(path.dirname(file), { recursive: true });
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const asides = () => fs.readdirSync(path.dirname(file)).filter((n) => n.includes('.unreadable-'));

  async function expectAside(store, pattern) {
    const report = await store.load();
    assert.match(report.problem || '', pattern);
    assert.match(report.problem, /renamed aside to .*\.unreadable-.* \(kept, not replaced\)/);
    assert.strictEqual(asides().length, 1, asides().join());
    assert.strictEqual(report.state, undefined);
    // The store keeps working with a new journal.
    const jobs = new Map([[U(1), liveJob(1)]]);
    await persisterFor(store, jobs, undefined, (e) => assert.fail(e)).persist(U(1));
    assert.deepStrictEqual(uuidsOf(await new FileStore(file).load()), [U(1)]);
    return report;
  }

  it('a directory at the journal path', async () => {
    fs.mkdirSync(file);
    fs.writeFileSync(path.join(file, 'inside'), 'x');
    await expectAside(new FileStore(file), /is not a file \(it is a directory\)/);
    assert.ok(fs.existsSync(path.join(path.dirname(file), asides()[0], 'inside')), 'its content is kept');
  });

  it('a file that cannot be parsed at all (random bytes)', async () => {
    const garbage = require('crypto').randomBytes(5000);
    fs.writeFileSync(file, Buffer.concat([garbage, Buffer.from('\n')]));
    await expectAside(new FileStore(file), /holds no record that can be read/);
    assert.ok(
      fs
        .readFileSync(path.join(path.dirname(file), asides()[0]))
        .subarray(0, 5000)
        .equals(garbage),
    );
  });

  it('a file over the size cap (a sparse 2 GiB file with the default cap; a small cap)', async () => {
    fs.closeSync(fs.openSync(file, 'w'));
    fs.truncateSync(file, 2 * 1024 ** 3);
    const report = await expectAside(new FileStore(file), /is 2048\.0 MiB, over the 1024\.0 MiB a journal may have/);
    assert.ok(report.problem);
    fs.rmSync(path.join(path.dirname(file), asides()[0]));
    fs.rmSync(file);
    fs.writeFileSync(file, framed({ op: 'put', job: liveJob(2) }).repeat(20));
    await expectAside(new FileStore(file, { maxFileBytes: 1000 }), /over the 0\.0 MiB/);
  });

  it('a journal written by a newer version', async () => {
    fs.writeFileSync(file, framed({ op: 'journal', format: 3 }) + framed({ op: 'put', job: liveJob(1) }));
    await expectAside(new FileStore(file), /written by a newer version \(format 3\)/);
  });

  it('when it cannot even be renamed, nothing is written over it', async () => {
    fs.mkdirSync(file);
    const fsNoRename = { ...fs.promises, rename: async () => Promise.reject(Object.assign(new Error('EROFS: read-only file system'), { code: 'EROFS' })) };
    const store = new FileStore(file, { fs: fsNoRename });
    const report = await store.load();
    assert.match(report.problem, /could not be renamed aside \(EROFS.*jobs are not saved until it is moved away/);
    const warnings = [];
    const jobs = new Map([[U(1), liveJob(1)]]);
    await persisterFor(store, jobs, undefined, (e) => warnings.push(e.message)).persist(U(1));
    assert.strictEqual(warnings.length, 1);
    assert.match(warnings[0], /1 failure in the last minute: the job journal .* is not a file/);
    assert.deepStrictEqual(fs.readdirSync(file), [], 'the directory is untouched');
  });
});

describe('job journal: private modes (0700 directory, 0600 files)', () => {
  let dir;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ovi-modes-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('creates them private, and narrows what an older version left readable', async () => {
    const ovi = path.join(dir, '.ovi');
    const file = path.join(ovi, 'jobs-cfg.json');
    const old = process.umask(0o022);
    try {
      fs.mkdirSync(ovi, { mode: 0o755 });
      fs.writeFileSync(
        file,
        JSON.stringify({ version: 1, jobs: [liveJob(1, { wire: JSON.stringify({ taskUUID: U(1), big: 'x'.repeat(9000) }) })], costTotal: 0 }) + '\n',
        {
          mode: 0o644,
        },
      );
      assert.strictEqual(mode(ovi), 0o755);
      assert.strictEqual(mode(file), 0o644);
      const store = new FileStore(file);
      const report = await store.load();
      assert.strictEqual(mode(ovi), 0o700);
      assert.strictEqual(mode(file), 0o600);
      const jobs = new Map(report.state.jobs.map((j) => [j.taskUUID, j]));
      await persisterFor(store, jobs).persist(U(1)); // compacts (upgrade): a new file through a temp file, and a side file
      assert.strictEqual(mode(file), 0o600);
      const side = path.join(ovi, 'jobs-cfg.side');
      assert.strictEqual(mode(side), 0o700);
      assert.ok(fs.readdirSync(side).length === 1);
      for (const n of fs.readdirSync(side)) assert.strictEqual(mode(path.join(side, n)), 0o600);
      // A fresh store in a fresh directory.
      const fresh = path.join(dir, 'other', '.ovi', 'jobs-x.json');
      await persisterFor(new FileStore(fresh), new Map([[U(2), liveJob(2)]])).persist(U(2));
      assert.strictEqual(mode(path.dirname(fresh)), 0o700);
      assert.strictEqual(mode(fresh), 0o600);
    } finally {
      process.umask(old);
    }
  });
});

describe('job journal: a full disk', () => {
  let dir;
  let file;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ovi-full-'));
    file = path.join(dir, '.ovi', 'jobs-cfg.json');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** fs.promises whose file writes stop half way with ENOSPC while `full.on` (a disk that fills up). */
  function fillingFs(full) {
    const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    return {
      ...fs.promises,
      open: async (...args) => {
        const handle = await fs.promises.open(...args);
        return new Proxy(handle, {
          get(target, key) {
            if (key === 'writeFile' && full.on)
              return async (data) => {
                const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
                await target.write(buf.subarray(0, buf.length >> 1));
                full.failures++;
                throw enospc();
              };
            const v = target[key];
            return typeof v === 'function' ? v.bind(target) : v;
          },
        });
      },
    };
  }

  const strays = () => {
    const all = [];
    const walk = (d) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) (e.isDirectory() ? walk : (x) => all.push(x))(path.join(d, e.name));
    };
    walk(dir);
    return all.filter((f) => f.endsWith('.tmp'));
  };

  it('failed compactions and appends leave no temp file and no torn line; persist() never rejects; all is saved once there is space', async () => {
    // A 0.1.0 journal: every write tries to compact (upgrade) until one succeeds.
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ op: 'put', job: liveJob(0) }) + '\n');
    const full = { on: true, failures: 0 };
    const store = new FileStore(file, { fs: fillingFs(full) });
    const report = await store.load();
    const jobs = new Map(report.state.jobs.map((j) => [j.taskUUID, j]));
    const warnings = [];
    const p = persisterFor(store, jobs, undefined, (e) => warnings.push(e.message));
    const t0 = Date.now();
    for (let i = 1; i <= 35; i++) {
      jobs.set(U(i), liveJob(i, { wire: i % 5 === 0 ? JSON.stringify({ taskUUID: U(i), image: 'i'.repeat(50000) }) : liveJob(i).wire }));
      await p.persist(U(i)); // resolves although nothing could be written
    }
    console.log('      35 changes on a full disk in ' + (Date.now() - t0) + ' ms: ' + full.failures + ' failed writes, ' + warnings.length + ' warning(s)');
    assert.ok(full.failures >= 35, 'every write failed: ' + full.failures);
    assert.deepStrictEqual(strays(), [], 'no temp file left behind');
    assert.deepStrictEqual(warnings, ['1 failure in the last minute: ENOSPC: no space left on device, write'], 'one warning per minute');
    const side = path.join(dir, '.ovi', 'jobs-cfg.side');
    assert.deepStrictEqual(fs.existsSync(side) ? fs.readdirSync(side) : [], [], 'no half-written side file');

    // The 0.1.0 journal is untouched by the failed compactions; then the disk frees up.
    assert.deepStrictEqual(uuidsOf(await new FileStore(file, { readOnly: true }).load()), [U(0)]);
    full.on = false;
    await p.flush();
    const after = await new FileStore(file).load();
    assert.strictEqual(after.state.jobs.length, 36, 'every change pending while the disk was full is saved now');
    assert.deepStrictEqual(after.skipped, []);

    // Appends that fail half way are cut back: the next record starts on a clean line.
    full.on = true;
    jobs.set(U(40), liveJob(40));
    await p.persist(U(40));
    full.on = false;
    jobs.set(U(41), liveJob(41));
    await p.persist(U(41));
    const last = await new FileStore(file).load();
    assert.deepStrictEqual(last.skipped, []);
    assert.strictEqual(last.state.jobs.length, 38);
    assert.deepStrictEqual(strays(), []);
  });

  it('write failures are warned once per period, with their count', async () => {
    const full = { on: true, failures: 0 };
    const jobs = new Map();
    const warnings = [];
    const p = persisterFor(new FileStore(file, { fs: fillingFs(full) }), jobs, undefined, (e) => warnings.push({ at: Date.now(), text: e.message }), {
      warnEveryMs: 300,
    });
    const t0 = Date.now();
    let n = 0;
    while (Date.now() - t0 < 1000) {
      jobs.set(U(n), liveJob(n));
      await p.persist(U(n++));
      await sleep(20);
    }
    await sleep(400); // the last period's count is reported when it ends
    const counts = warnings.map((w) => Number(/^(\d+) failures? in the last 0\.3 s: ENOSPC/.exec(w.text)[1]));
    console.log('      ' + full.failures + ' failures in 1 s → warnings with counts ' + counts.join(', '));
    assert.strictEqual(
      counts.reduce((a, b) => a + b, 0),
      full.failures,
      'every failure counted once',
    );
    assert.ok(warnings.length >= 3 && warnings.length <= 6, warnings.length + ' warnings');
    for (let i = 1; i < warnings.length; i++) assert.ok(warnings[i].at - warnings[i - 1].at >= 290, 'at most one per period');
  });

  it('a real full disk (a 1 MiB tmpfs, where mounting is allowed): no temp files, no torn records', async function () {
    const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'ovi-tmpfs-'));
    const { spawnSync } = require('child_process');
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]).status === 0;
    if (!mounted) {
      fs.rmdirSync(mnt);
      this.skip(); // needs CAP_SYS_ADMIN; the injected failures above cover the same paths
    }
    try {
      const f = path.join(mnt, '.ovi', 'jobs-cfg.json');
      const store = new FileStore(f);
      await store.load();
      const jobs = new Map();
      const warnings = [];
      const p = persisterFor(store, jobs, undefined, (e) => warnings.push(e.message));
      // 40 image jobs of 60 KB: about 2.4 MB of side files on a 1 MiB disk.
      for (let i = 0; i < 40; i++) {
        jobs.set(U(i), liveJob(i, { wire: JSON.stringify({ taskUUID: U(i), image: require('crypto').randomBytes(45000).toString('base64') }) }));
        await p.persist(U(i));
      }
      assert.ok(p.stats.failures > 0, 'the disk filled up');
      assert.strictEqual(warnings.length, 1, warnings.join('\n'));
      assert.match(warnings[0], /ENOSPC/);
      const tmp = [];
      const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).forEach((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : tmp.push(e.name)));
      walk(mnt);
      assert.deepStrictEqual(
        tmp.filter((n) => n.endsWith('.tmp')),
        [],
      );
      const report = await new FileStore(f).load();
      assert.deepStrictEqual(report.skipped, [], 'nothing torn or damaged');
      const saved = report.state.jobs.length;
      console.log('      1 MiB tmpfs: ' + saved + ' of 40 image jobs saved, ' + p.stats.failures + ' failed writes, 1 warning');
      assert.ok(saved > 5 && saved < 40, saved + ' saved');
      for (const j of report.state.jobs) assert.strictEqual(j.wire, jobs.get(j.taskUUID).wire);
    } finally {
      spawnSync('umount', [mnt]);
      fs.rmdirSync(mnt);
    }
  });
});
