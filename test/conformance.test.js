'use strict';
// The conformance probe's offline runs: against the simulator's default shapes every assumption holds;
// against its alternative shapes exactly the switched ones differ. Build first (node scripts/build.js).
const assert = require('assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { runConformance, chooseTarget } = require('../dist/conformance/run.js');
const { ASSUMPTIONS } = require('../dist/conformance/assumptions.js');

const CLI = path.join(__dirname, '..', 'dist', 'conformance', 'cli.js');
// What `shapes: 'alt'` switches, as assumption ids (simulator/shapes.ts ALT_SHAPES).
const ALT_DIFFERENCES = ['A09', 'A11', 'A16', 'A22', 'A24', 'A26'];

describe('conformance probe', function () {
  this.timeout(30000);
  const dirs = [];
  const tmp = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ovi-conformance-'));
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  const byVerdict = (report, verdict) => report.verdicts.filter((v) => v.verdict === verdict).map((v) => v.id);
  const explain = (report) =>
    report.verdicts
      .filter((v) => v.verdict !== 'holds')
      .map((v) => `${v.id} ${v.verdict}: ${v.seen}`)
      .join('\n');

  let defaultRun;
  const KEY = 'probe-test-key-5f1d0c9a7e3b';

  it('against the default simulator every assumption holds, and the report is written without secrets', async () => {
    const out = tmp();
    defaultRun = await runConformance({ target: 'simulator', apiKey: KEY, outDir: out });
    const { report, files, summary } = defaultRun;
    assert.equal(report.verdicts.length, ASSUMPTIONS.length);
    assert.deepEqual(
      byVerdict(report, 'holds'),
      ASSUMPTIONS.map((a) => a.id),
      explain(report),
    );
    assert.match(summary, /33 hold, 0 differ, 0 not observed/);
    assert.ok(report.totalCost > 0 && report.results >= 3, `cost ${report.totalCost} for ${report.results}`);
    for (const file of [files.md, files.json]) {
      const text = fs.readFileSync(file, 'utf8');
      assert.ok(!text.includes(KEY), `${path.basename(file)} holds the API key`);
      assert.doesNotMatch(text, /token=[0-9a-f]{32}/, `${path.basename(file)} holds a webhook token`);
      assert.match(text, /Bearer \*\*\*/);
    }
    const json = JSON.parse(fs.readFileSync(files.json, 'utf8'));
    assert.equal(json.target, 'simulator');
    assert.ok(json.transcript.length > 20, 'every request and answer is in the transcript');
    assert.ok(
      json.transcript.some((e) => e.kind === 'webhook') && json.transcript.some((e) => e.kind === 'upload'),
      'webhooks and uploads received are in the transcript',
    );
    assert.ok(!JSON.stringify(report).includes(KEY), 'the returned report is redacted too');
    assert.ok(!summary.includes(KEY));
    const md = fs.readFileSync(files.md, 'utf8');
    for (const a of ASSUMPTIONS) assert.ok(md.includes(`| ${a.id} |`), a.id);
  });

  it('against the alternative shapes exactly the switched assumptions differ', async () => {
    const { report } = await runConformance({ target: 'simulator-alt' });
    assert.deepEqual(byVerdict(report, 'differs'), ALT_DIFFERENCES, explain(report));
    assert.deepEqual(byVerdict(report, 'not observed'), [], explain(report));
    for (const v of report.verdicts.filter((x) => x.verdict === 'differs')) assert.ok(v.seen, `${v.id} says what was seen`);
  });

  it('every assumption names a statement, a section and known checks', () => {
    const { CHECKS } = require('../dist/conformance/assumptions.js');
    const ids = ASSUMPTIONS.map((a) => a.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const a of ASSUMPTIONS) {
      assert.match(a.id, /^A\d\d$/);
      assert.ok(a.statement.length > 20 && a.section, a.id);
      for (const c of a.checks) assert.ok(CHECKS[c], `${a.id} names unknown check ${c}`);
    }
    const readme = fs.readFileSync(path.join(__dirname, '..', 'conformance', 'README.md'), 'utf8');
    for (const id of ids) assert.match(readme, new RegExp(`\\| ${id} \\|`), `conformance/README.md maps ${id}`);
  });

  it('a key without --spend is refused (it costs money); --spend without a key too; no key runs offline', () => {
    assert.deepEqual(chooseTarget({ spend: false, sim: false, simAlt: false }, false), { target: 'simulator' });
    assert.deepEqual(chooseTarget({ spend: true, sim: false, simAlt: false }, true), { target: 'runware' });
    assert.deepEqual(chooseTarget({ spend: false, sim: true, simAlt: false }, true), { target: 'simulator' });
    assert.deepEqual(chooseTarget({ spend: false, sim: false, simAlt: true }, true), { target: 'simulator-alt' });
    const env = { ...process.env, RUNWARE_API_KEY: 'rw-secret-not-to-be-used' };
    const refused = spawnSync(process.execPath, [CLI, '--out', tmp()], { env, encoding: 'utf8' });
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /cost money/);
    assert.match(refused.stderr, /--spend/);
    assert.ok(!refused.stderr.includes('rw-secret-not-to-be-used'));
    const noKey = { ...process.env };
    delete noKey.RUNWARE_API_KEY;
    const spendless = spawnSync(process.execPath, [CLI, '--spend'], { env: noKey, encoding: 'utf8' });
    assert.equal(spendless.status, 2);
    assert.match(spendless.stderr, /RUNWARE_API_KEY/);
    const bad = spawnSync(process.execPath, [CLI, '--bogus'], { env: noKey, encoding: 'utf8' });
    assert.equal(bad.status, 2);
    const help = spawnSync(process.execPath, [CLI, '--help'], { env: noKey, encoding: 'utf8' });
    assert.equal(help.status, 0);
    for (const flag of ['--spend', '--endpoint', '--public-url', '--listen', '--out', '--sim-alt']) assert.ok(help.stdout.includes(flag), flag);
  });

  it('the CLI without a key runs against the simulator and prints the summary and the report paths', () => {
    const out = tmp();
    const env = { ...process.env };
    delete env.RUNWARE_API_KEY;
    const run = spawnSync(process.execPath, [CLI, '--out', out], { env, encoding: 'utf8', timeout: 25000 });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /Conformance against the simulator \(default shapes\).*33 hold, 0 differ, 0 not observed/);
    assert.match(run.stdout, /Total cost: [\d.]+ USD/);
    assert.ok(fs.existsSync(path.join(out, 'conformance-report.md')));
    assert.ok(fs.existsSync(path.join(out, 'conformance-report.json')));
  });
});
