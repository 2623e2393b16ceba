'use strict';
// The benchmark (bench/run.js, `npm run bench`) at a tiny size: it must complete and write
// well-formed rows with finite numbers. No speed threshold here, ever: timings belong to the bench.
const assert = require('assert');
const { execFile } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const RUN = path.join(__dirname, '..', 'bench', 'run.js');
const ROW_IDS = [
  'cpu-per-task',
  'cpu-per-task-vs-hand-built',
  'getresponse-per-tick',
  'calls-per-task-webhook',
  'calls-per-task-poll',
  'poll-delay-alone',
  'poll-requests-alone',
  'poll-delay-20',
  'poll-requests-20',
  'poll-delay-20-cold',
  'poll-delay-200',
  'poll-requests-200',
  'poll-delay-200-cold',
  'webhook-delay-p99',
  'inflight-heap',
  'inflight-eld-p99-polling',
  'inflight-eld-p99-submitting',
  'inflight-eld-p99-submitting-hog',
  'webhook-ingest',
  'footprint-rss',
  'footprint-start',
];

const finiteOrNull = (v) => v === null || Number.isFinite(v);

describe('bench (smoke size)', function () {
  this.timeout(300000);
  let out;
  let result;
  let stdout = '';

  before(async () => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'ovi-bench-smoke-test-'));
    // Its own process: the bench embeds a Node-RED of its own, beside the one of the test helper.
    await new Promise((resolve, reject) => {
      execFile(process.execPath, [RUN, '--smoke', '--out', out], { timeout: 280000, maxBuffer: 16 * 1024 * 1024 }, (err, so, se) => {
        stdout = so;
        if (err) reject(new Error('bench --smoke failed: ' + err.message + '\n' + so.slice(-4000) + '\n' + se.slice(-4000)));
        else resolve();
      });
    });
    result = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
  });

  after(() => {
    if (out) fs.rmSync(out, { recursive: true, force: true });
  });

  it('describes the machine it ran on', () => {
    const m = result.machine;
    assert.strictEqual(typeof m.cpu, 'string');
    assert.ok(Number.isInteger(m.cores) && m.cores > 0);
    assert.match(m.node, /^v\d+\./);
    assert.match(m.nodeRed, /^\d+\.\d+\.\d+/);
    assert.ok(!Number.isNaN(Date.parse(m.date)));
    assert.strictEqual(result.mode, 'smoke');
  });

  it('writes one well-formed row per measurement', () => {
    assert.deepStrictEqual(
      result.rows.map((r) => r.id),
      ROW_IDS,
    );
    for (const r of result.rows) {
      const at = 'row ' + r.id + ': ' + JSON.stringify(r);
      assert.ok(typeof r.metric === 'string' && r.metric.length > 0, at);
      assert.ok(typeof r.unit === 'string' && r.unit.length > 0, at);
      assert.ok(Number.isFinite(r.ours), at);
      assert.ok(finiteOrNull(r.baseline), at);
      assert.ok(finiteOrNull(r.ratio), at);
      assert.ok(Array.isArray(r.ratioRounds) && r.ratioRounds.length > 0 && r.ratioRounds.every(Number.isFinite), at);
      assert.ok(typeof r.baselineLabel === 'string', at);
      assert.strictEqual(typeof r.valid, 'boolean', at);
      if (r.goal === null) assert.strictEqual(r.met, null, at);
      else {
        assert.ok(['<=', '<', '>='].includes(r.goal.op) && Number.isFinite(r.goal.value), at);
        assert.strictEqual(typeof r.met, 'boolean', at);
        if (r.goal.on === 'added') assert.ok(Number.isFinite(r.added), at);
      }
    }
  });

  it('prints the same table it writes to results.md', () => {
    const md = fs.readFileSync(path.join(out, 'results.md'), 'utf8');
    assert.ok(md.includes('| Metric | Ours | Baseline | Ratio | Goal | Met |'));
    for (const r of result.rows) assert.ok(md.includes(r.metric), r.metric);
    assert.ok(stdout.includes('| Metric | Ours | Baseline | Ratio | Goal | Met |'));
  });

  it('puts the poll schedules side by side, each with delays and requests per task', () => {
    const md = fs.readFileSync(path.join(out, 'results.md'), 'utf8');
    assert.ok(md.includes('## Poll schedules side by side'));
    const s = result.details.schedule;
    for (const key of ['alone', 'twenty', 'twoHundred']) {
      for (const policy of ['adaptive', 'sdk', 'fixed']) {
        const x = s.sizes[key][policy];
        const at = key + '/' + policy + ': ' + JSON.stringify(x);
        assert.ok(x.tasks > 0 && x.failed === 0 && x.unmatched === 0, at);
        for (const k of ['p50s', 'p95s', 'requestsPerTask']) assert.ok(Number.isFinite(x[k]), at);
      }
    }
  });
});
