'use strict';
// SIGKILL at random moments during heavy journal writes: 20 rounds in which a real Node-RED starts on
// the same userDir (resuming everything so far), takes a burst of 25 submits (one in five with a
// 200 KB image, i.e. a side file), and is killed 50..1500 ms (seeded) into the burst, mid-append,
// mid-compaction or mid-side-file. Results are held back (resultGate) until a last start, so every
// kill lands on journal writes for submissions, not on a result's emission. Then: every task Runware
// accepted is delivered exactly once, none is accepted twice, nothing is left behind on disk.
const assert = require('assert');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { devNodeRed, startNodeRed, request, collectorServer, deploy } = require('../support/real-node-red');
const { createSimulator } = require('../../dist/simulator/server.js');
const { FileStore } = require('../../dist/nodes/lib/job-store.js');
const { SEED, rng, sleep, pool, linkedUserDir, sigkill, restartFlow, report } = require('./support');
const { pngOf, resultGate, filesUnder } = require('./journal-support');

const API_KEY = 'rel-journal-kill-key-P3x8';
const ROUNDS = 20;
const BURST = 25;

describe('reliability: SIGKILL during heavy journal writes', function () {
  this.timeout(240000);
  const redJs = devNodeRed().redJs;
  let sim;
  let gate;
  let collector;
  let userDir;
  let red;
  let logs = '';

  before(async () => {
    sim = await createSimulator({ apiKeys: [API_KEY], renderMs: 1500 });
    gate = await resultGate(sim.url);
    collector = await collectorServer();
    userDir = linkedUserDir('ovi-kill-');
  });
  after(async () => {
    if (red) {
      await red.stop();
      logs += red.log();
    }
    if (gate) await gate.close();
    if (collector) await collector.close();
    if (sim) await sim.close();
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  async function ready() {
    for (let i = 0; i < 80; i++) {
      if ((await request('GET', red.url + '/rel/ready/kill').catch(() => ({ status: 0 }))).status === 200) return;
      await sleep(100);
    }
    throw new Error('the flow did not start:\n' + red.log().slice(-3000));
  }

  it(ROUNDS + ' rounds of ' + BURST + ' submits, each killed at a random moment: no accepted task lost, none twice', async () => {
    const r = rng(SEED + 2);
    const image = 'data:image/png;base64,' + pngOf(200 * 1024).toString('base64');
    const posted = [];
    const kills = [];
    const journal = path.join(userDir, '.ovi', 'jobs-kill.cfg.json');
    let largestJournal = 0;
    const t0 = Date.now();
    for (let round = 0; round < ROUNDS; round++) {
      red = await startNodeRed({ redJs, userDir });
      if (round === 0) await deploy(red, restartFlow({ prefix: 'kill', endpoint: gate.url, collectorUrl: collector.url, apiKey: API_KEY, maxConcurrent: 0 }));
      await ready();
      const uuids = Array.from({ length: BURST }, () => crypto.randomUUID());
      posted.push(...uuids);
      const killAfter = r.int(50, 1500);
      const burst = pool(BURST, 8, async (i) => {
        const body = { positivePrompt: 'kill ' + round + ' ' + i, taskUUID: uuids[i] };
        if (i % 5 === 0) body.inputs = { image };
        await request('POST', red.url + '/rel/submit', { body, timeoutMs: 5000 }).catch(() => {}); // refused once killed
      });
      await sleep(killAfter);
      await sigkill(red);
      logs += red.log();
      await burst;
      if (fs.existsSync(journal)) largestJournal = Math.max(largestJournal, fs.statSync(journal).size);
      kills.push(killAfter);
    }
    const acceptedBeforeFinal = posted.filter((u) => sim.stats().acceptedByUUID[u]).length;

    // The last start, results let through: everything in flight must come out, once.
    gate.state.closed = false;
    red = await startNodeRed({ redJs, userDir });
    await ready();
    const results = () => collector.got['/result'] || [];
    const accepted = () => posted.filter((u) => sim.stats().acceptedByUUID[u]);
    const settleStart = Date.now();
    for (let until = Date.now() + 60000; Date.now() < until; await sleep(250)) {
      const got = new Set(results().map((b) => b.taskUUID));
      if (accepted().every((u) => got.has(u)) && Date.now() - settleStart > 4000) break;
    }
    await sleep(2500); // duplicates would show up now
    const counts = {};
    for (const b of results()) counts[b.taskUUID] = (counts[b.taskUUID] || 0) + 1;
    const acc = accepted();
    const acceptedTwice = acc.filter((u) => sim.stats().acceptedByUUID[u] > 1);
    const errors = collector.got['/error'] || [];
    report('SIGKILL during journal writes', {
      rounds: ROUNDS,
      posted: posted.length,
      acceptedDuringRounds: acceptedBeforeFinal,
      acceptedInAll: acc.length,
      neverSaved: posted.length - acc.length,
      results: results().length,
      twice: Object.values(counts).filter((c) => c > 1).length,
      failures: errors.length,
      duplicateRejections: sim.stats().duplicateRejections,
      resultsHeldBack: gate.state.held,
      killAfterMs: Math.min(...kills) + '..' + Math.max(...kills),
      largestJournalKB: (largestJournal / 1024).toFixed(0),
      totalS: ((Date.now() - t0) / 1000).toFixed(1),
    });
    assert.ok(acc.length >= ROUNDS * 5, 'most submits reached Runware before their kill: ' + acc.length);
    assert.deepStrictEqual(
      acc.filter((u) => !counts[u]),
      [],
      'accepted tasks without a result (lost)',
    );
    assert.deepStrictEqual(
      Object.entries(counts).filter(([, c]) => c > 1),
      [],
      'results delivered twice',
    );
    assert.deepStrictEqual(
      Object.keys(counts).filter((u) => !acc.includes(u)),
      [],
      'results for tasks Runware never accepted',
    );
    assert.deepStrictEqual(acceptedTwice, [], 'tasks accepted twice (a second paid job)');
    assert.deepStrictEqual(errors.map((e) => e.code + ': ' + e.message).slice(0, 5), [], 'failures');
    assert.ok(!/Unhandled|uncaughtException|TypeError/.test(logs + red.log()), 'no crash in any log');

    // Everything finished: nothing in flight, no side file, no temp file, a small private journal.
    await sleep(500);
    const { state, skipped } = await new FileStore(journal, { readOnly: true }).load();
    const ovi = path.join(userDir, '.ovi');
    const left = filesUnder(ovi);
    report('journal after the last round', {
      jobsInFlight: state.jobs.length,
      files: left.join(' '),
      journalKB: (fs.statSync(journal).size / 1024).toFixed(0),
    });
    assert.deepStrictEqual(state.jobs, []);
    assert.ok(
      skipped.every((s) => /torn tail/.test(s.reason)),
      JSON.stringify(skipped),
    );
    assert.deepStrictEqual(
      left.filter((f) => f.endsWith('.tmp') || f.includes('.side/')),
      [],
      'no temp or side file left',
    );
    assert.strictEqual(fs.statSync(ovi).mode & 0o777, 0o700);
    for (const f of left) assert.strictEqual(fs.statSync(path.join(ovi, f)).mode & 0o777, 0o600, f);
  });
});
