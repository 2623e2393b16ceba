'use strict';
// The durable job store: an append-only journal that survives a crash mid-append, compacts, and
// group-commits bursts of changes.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { FileStore, Persister } = require('../dist/nodes/lib/job-store.js');

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
