'use strict';
// The package as users get it: `npm pack`, installed by npm into a fresh Node-RED userDir, a real
// Node-RED 4.1 (the devDependency) started on 127.0.0.1, and everything checked through Node-RED's
// own HTTP admin API: node types, editor HTML, icons, help, message catalogs, resources, examples,
// and one example flow deployed and run end to end against the simulator this test starts.
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { ROOT, MODULE, packOnce, userDirWith, devNodeRed, startNodeRed, exampleEnv, request, runExample } = require('./support/real-node-red');

const TYPES = ['ovi-config', 'ovi-submit', 'ovi-poll', 'ovi-webhook'];
const KEY = 'sim-key-package-test';

/** The editor HTML Node-RED serves, cut into our node sets by its `[red-module:<module>/<set>]` markers. */
function setsOf(html) {
  const out = {};
  const re = /<!-- --- \[red-module:([^\]]+)\] --- -->/g;
  const marks = [...html.matchAll(re)];
  marks.forEach((m, i) => {
    const [mod, set] = [m[1].slice(0, m[1].lastIndexOf('/')), m[1].slice(m[1].lastIndexOf('/') + 1)];
    if (mod === MODULE) out[set] = html.slice(m.index + m[0].length, i + 1 < marks.length ? marks[i + 1].index : html.length);
  });
  return out;
}

describe('the npm package in a real Node-RED (npm pack → npm install → node-red)', function () {
  this.timeout(600000);
  let pack;
  let userDir;
  let red;
  let sim;

  before(async function () {
    pack = await packOnce();
    userDir = await userDirWith(pack.tarball);
    const { createSimulator } = require('../dist/simulator/server.js');
    sim = await createSimulator({ apiKeys: [KEY], renderMs: 60 });
    red = await startNodeRed({
      redJs: devNodeRed().redJs,
      userDir,
      env: exampleEnv(sim, KEY),
    });
  });

  after(async function () {
    // Always: a Node-RED left running would keep mocha (and CI) alive.
    if (red) await red.stop();
    if (sim) await sim.close();
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  afterEach(function () {
    if (this.currentTest && this.currentTest.state === 'failed' && red) console.log('--- Node-RED log ---\n' + red.log().slice(-6000));
  });

  it('the tarball holds the built package and no sources, tests or local state', function () {
    const files = pack.files;
    console.log(
      '      tarball: ' +
        path.basename(pack.tarball) +
        ', ' +
        (pack.size / 1024).toFixed(1) +
        ' kB packed, ' +
        (pack.unpackedSize / 1024).toFixed(1) +
        ' kB unpacked, ' +
        files.length +
        ' files',
    );
    const bad = files.filter(
      (f) =>
        /^test\//.test(f) ||
        /^(nodes|simulator)\//.test(f) ||
        /\.ts$/.test(f) ||
        /(^|\/)\.userdir\//.test(f) ||
        /(^|\/)node_modules\//.test(f) ||
        /(^|\/)\.tmp\//.test(f) ||
        /^scripts\//.test(f) ||
        /\.tgz$/.test(f),
    );
    assert.deepStrictEqual(bad, [], 'files that must not ship');
    // Every compiled file has its source: scripts/build.js does not empty dist/, so a renamed or
    // deleted .ts would otherwise ship as a stale .js.
    const stale = files.filter((f) => /^dist\/.*\.js$/.test(f) && !fs.existsSync(path.join(ROOT, f.replace(/^dist\//, '').replace(/\.js$/, '.ts'))));
    assert.deepStrictEqual(stale, [], 'compiled files without a source (stale dist/)');
    for (const t of TYPES) {
      assert.ok(files.includes('dist/nodes/' + t + '.js'), t + '.js');
      assert.ok(files.includes('dist/nodes/' + t + '.html'), t + '.html');
      assert.ok(files.includes('dist/nodes/locales/en-US/' + t + '.json'), t + ' messages');
    }
    assert.ok(files.includes('dist/nodes/icons/ovi.svg'));
    assert.ok(files.includes('resources/ovi-fields.js'));
    assert.ok(files.includes('package.json'));
    for (const f of fs.readdirSync(path.join(ROOT, 'examples')).filter((n) => n.endsWith('.json'))) assert.ok(files.includes('examples/' + f), 'examples/' + f);
    // Fails loudly if a file listed in package.json "files" was forgotten (README, LICENSE, CHANGELOG).
    for (const f of ['README.md', 'LICENSE', 'CHANGELOG.md']) {
      if (fs.existsSync(path.join(ROOT, f))) assert.ok(files.includes(f), f + ' exists but is not packed');
    }
  });

  it('GET /nodes lists the four node types, enabled and loaded without error', async function () {
    const r = await request('GET', red.adminUrl + '/nodes', { headers: { Accept: 'application/json' } });
    assert.strictEqual(r.status, 200);
    const ours = r.json().filter((s) => s.module === MODULE);
    assert.deepStrictEqual(
      ours
        .map((s) => s.types)
        .flat()
        .sort(),
      [...TYPES].sort(),
    );
    for (const s of ours) {
      assert.strictEqual(s.enabled, true, s.id + ' enabled');
      assert.notStrictEqual(s.loaded, false, s.id + ' loaded');
      assert.ok(!s.err, s.id + ': ' + s.err);
      assert.strictEqual(s.version, require('../package.json').version);
    }
    const mod = await request('GET', red.adminUrl + '/nodes/' + MODULE, { headers: { Accept: 'application/json' } });
    assert.strictEqual(mod.status, 200);
    assert.strictEqual(mod.json().name, MODULE);
    assert.strictEqual(mod.json().nodes.length, TYPES.length);
    assert.match(red.log(), /Loading palette nodes/);
    assert.doesNotMatch(red.log(), new RegExp('\\[(warn|error)\\].*' + MODULE), 'no warning about the module at load');
  });

  it('GET /nodes (text/html) holds each editor definition, its help, and only icons and resources that are served', async function () {
    const r = await request('GET', red.adminUrl + '/nodes', { headers: { Accept: 'text/html' } });
    assert.strictEqual(r.status, 200);
    const sets = setsOf(r.body);
    assert.deepStrictEqual(Object.keys(sets).sort(), [...TYPES].sort());
    const icons = new Set();
    const resources = new Set();
    for (const t of TYPES) {
      const html = sets[t];
      assert.ok(html.includes("registerType('" + t + "'"), t + ': registerType');
      const help = new RegExp('<script type="text/html" data-help-name="' + t + '"[^>]*>([\\s\\S]*?)</script>').exec(html);
      assert.ok(help, t + ': help');
      assert.ok(help[1].replace(/<[^>]+>/g, '').trim().length > 100, t + ': the help says something');
      for (const m of html.matchAll(/\bicon:\s*['"]([^'"/]+\.(?:svg|png))['"]/g)) icons.add(m[1]);
      for (const m of html.matchAll(/src="resources\/([^"]+)"/g)) resources.add(m[1]);
    }
    assert.ok(icons.has('ovi.svg'));
    for (const icon of icons) {
      const g = await request('GET', red.adminUrl + '/icons/' + MODULE + '/' + icon);
      assert.strictEqual(g.status, 200, icon);
      assert.match(String(g.headers['content-type']), icon.endsWith('.svg') ? /^image\/svg\+xml/ : /^image\/png/, icon);
      assert.ok(g.body.length > 100, icon + ' has content');
    }
    const listed = (await request('GET', red.adminUrl + '/icons', { headers: { Accept: 'application/json' } })).json();
    assert.ok(listed[MODULE] && listed[MODULE].includes('ovi.svg'), 'GET /icons lists our icons');
    assert.ok(resources.has(MODULE + '/ovi-fields.js'));
    for (const res of resources) {
      const g = await request('GET', red.adminUrl + '/resources/' + res);
      assert.strictEqual(g.status, 200, 'resources/' + res);
      assert.match(String(g.headers['content-type']), /javascript/, res);
    }
    const fields = await request('GET', red.adminUrl + '/resources/' + MODULE + '/ovi-fields.js');
    assert.match(fields.body, /window\.OVI_FIELDS = /);
  });

  it('the message catalogs are served: GET /locales/<module>/<set> and /nodes/messages', async function () {
    const all = (await request('GET', red.adminUrl + '/nodes/messages?lng=en-US', { headers: { Accept: 'application/json' } })).json();
    for (const t of TYPES) {
      const r = await request('GET', red.adminUrl + '/locales/' + MODULE + '/' + t + '?lng=en-US', { headers: { Accept: 'application/json' } });
      assert.strictEqual(r.status, 200);
      const catalog = r.json();
      assert.ok(catalog[t] && typeof catalog[t] === 'object', t + ': its own section in its catalog');
      assert.ok(catalog[t].paletteLabel, t + ': paletteLabel');
      assert.deepStrictEqual(all[MODULE + '/' + t], catalog, t + ': same catalog in /nodes/messages');
    }
  });

  it('the examples are offered under Import → Examples (GET /library/examples/flows/<module>)', async function () {
    const mods = (await request('GET', red.adminUrl + '/library/examples/flows/', { headers: { Accept: 'application/json' } })).json();
    assert.ok(mods.includes(MODULE), 'our module has examples');
    const list = (await request('GET', red.adminUrl + '/library/examples/flows/' + MODULE, { headers: { Accept: 'application/json' } })).json();
    const names = list.map((e) => e.fn).sort();
    const files = fs
      .readdirSync(path.join(ROOT, 'examples'))
      .filter((n) => n.endsWith('.json'))
      .map((n) => n.replace(/\.json$/, ''))
      .sort();
    assert.deepStrictEqual(names, files);
    for (const n of names) {
      const flow = (await request('GET', red.adminUrl + '/library/examples/flows/' + MODULE + '/' + n, { headers: { Accept: 'application/json' } })).json();
      assert.ok(Array.isArray(flow) && flow.some((x) => x.type === 'ovi-submit'), n + ' is a flow with an ovi submit');
      const unknown = flow.filter((x) => x.type.startsWith('ovi-') && !TYPES.includes(x.type));
      assert.deepStrictEqual(unknown, [], n + ': only our types');
    }
  });

  const examples = fs
    .readdirSync(path.join(ROOT, 'examples'))
    .filter((n) => n.endsWith('.json'))
    .sort();
  for (const file of examples) {
    it('examples/' + file + ' deployed by POST /flows, its inject pressed: a video comes back from the simulator', async function () {
      const before = sim.stats();
      const payload = await runExample(red, path.join(ROOT, 'examples', file), { timeoutMs: 45000 });
      assert.strictEqual(payload.status, 'success');
      assert.match(payload.taskUUID, /^[0-9a-f-]{36}$/);
      assert.ok(payload.videoURL.startsWith(sim.url.replace(/\/v1$/, '')), 'the simulator served it: ' + payload.videoURL);
      const after = sim.stats();
      assert.ok(after.submits > before.submits, 'a videoInference was submitted');
      assert.strictEqual(after.acceptedByUUID[payload.taskUUID], 1, 'accepted once');
      const video = await request('GET', payload.videoURL);
      assert.strictEqual(video.status, 200);
      assert.match(String(video.headers['content-type']), /^video\//);
      // What Node-RED runs now is the example, its config node's ${ENV} references intact.
      const flows = (await request('GET', red.adminUrl + '/flows', { headers: { Accept: 'application/json' } })).json();
      const cfg = flows.find((n) => n.type === 'ovi-config');
      assert.strictEqual(cfg.endpoint, '${RUNWARE_ENDPOINT}');
    });
  }
});
