'use strict';
// A journal that cannot be written, in a real Node-RED runtime (node-red-node-test-helper): the
// journal directory replaced by a file. Availability first: submits go on and deliver; the failures
// are one warning (with their count) per minute, not one per write; no temp file is left; once the
// directory can be made again, everything still in flight is saved.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { helper, useHarness, pipeline, load, collector, sleep } = require('../helpers');
const { FileStore } = require('../../dist/nodes/lib/job-store.js');
const { helperLogText, report } = require('./support');
const { filesUnder } = require('./journal-support');

describe('reliability: a journal that cannot be written (Node-RED runtime)', () => {
  let sim;
  let userDir;
  useHarness((s) => (sim = s));
  before(() => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ovi-disk-'));
    helper.settings({ userDir });
  });
  after(() => {
    helper.settings({});
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('35 submits while the journal directory is a file: 35 results, one warning with a count, no temp file; saved again once it can be', async () => {
    await load(pipeline(sim));
    const account = helper.getNode('cfg').account;
    await account.ready;
    const ovi = path.join(userDir, '.ovi');
    assert.strictEqual(fs.statSync(ovi).mode & 0o777, 0o700, 'made private at load');
    fs.rmSync(ovi, { recursive: true, force: true });
    fs.writeFileSync(ovi, 'a file where the journal directory was');
    const results = collector('results');
    const t0 = Date.now();
    for (let i = 0; i < 35; i++) {
      helper.getNode('submit').receive({ payload: 'full disk ' + i, topic: 'd' + i });
      await sleep(20);
    }
    await results.next(35, 30000);
    const warnings = helperLogText(helper)
      .split('\n')
      .filter((l) => /could not save jobs in flight/.test(l));
    report('journal directory is a file', {
      submits: 35,
      results: results.msgs.length,
      warnings: warnings.length,
      seconds: ((Date.now() - t0) / 1000).toFixed(1),
    });
    assert.strictEqual(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0], /could not save jobs in flight to file .*jobs-cfg\.json: 1 failure in the last minute: E(EXIST|NOTDIR)/);
    assert.deepStrictEqual(
      filesUnder(userDir).filter((f) => f.endsWith('.tmp')),
      [],
    );

    // The directory can be made again: the next change saves everything pending with it.
    fs.rmSync(ovi);
    const journal = path.join(ovi, 'jobs-cfg.json');
    helper.getNode('submit').receive({ payload: 'after' });
    await results.next(36, 10000);
    await sleep(300);
    const { state, skipped } = await new FileStore(journal, { readOnly: true }).load();
    assert.deepStrictEqual(skipped, []);
    assert.deepStrictEqual(state.jobs, [], 'every finished task recorded as finished');
    assert.strictEqual(fs.statSync(ovi).mode & 0o777, 0o700);
    assert.strictEqual(fs.statSync(journal).mode & 0o777, 0o600);
  });
});
