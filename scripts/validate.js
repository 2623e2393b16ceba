#!/usr/bin/env node
// npm run validate: the Flow Library scorecard (node-red-dev validate) on the package as it would be
// published, offline except for the npm registry.
//
//   1. `npm pack` (of the dist/ that `npm run build` made) into .tmp/validate/, unpacked there, the
//      way the Flow Library unpacks a published tarball (no node_modules);
//   2. node-red-dev from node_modules if a developer installed it, else installed on first use into
//      .tmp/tools/node-red-dev/ (pinned, kept out of the project's lockfile: it drags in ~440
//      packages, among them deprecated `request` and axios 0.21);
//   3. run with scripts/node-red-dev-offline.js preloaded (catalogue.nodered.org is unreachable here;
//      registry look-ups go to npm's registry), the report printed, the scorecard written to
//      .tmp/validate/scorecard.json and summed up check by check.
// Exit status 1 if a check fails that is not an accepted exception (ACCEPTED below).
//
// Options: --path <dir> validates a directory instead of the packed tarball; --json prints the
// scorecard only. Env: NODE_RED_CATALOGUE=<catalogue.json copy> makes P08/N01 real checks.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const work = path.join(root, '.tmp', 'validate');
const toolDir = path.join(root, '.tmp', 'tools', 'node-red-dev');
const NODE_RED_DEV = 'node-red-dev@0.1.6';
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPM_FLAGS = ['--no-audit', '--no-fund', '--no-update-notifier', '--loglevel=error'];

/** Accepted exceptions: check → why. */
const ACCEPTED = {
  P04: 'the name is unscoped on purpose (node-red-contrib-runware-ovi is the published name); node-red-dev warns, and its scorecard still records P04 as passed because an unscoped node-red-contrib-* name is "a valid name"',
};

const CHECKS = {
  P01: 'package declares a license',
  P03: 'repository or bugs URL in package.json',
  P04: 'scoped name (new packages) / node-red-contrib- prefix',
  P05: 'keyword "node-red" in package.json',
  P06: 'node-red.version includes a current Node-RED (latest/maintenance dist-tags)',
  P07: 'engines.node admits the minimum Node.js of the latest Node-RED',
  P08: 'no similarly named package in the Flow Library catalogue',
  N01: 'node types unique across the Flow Library catalogue',
  N02: 'every non-config node appears in examples/**/*.json',
  D01: 'at most 6 dependencies',
  D02: 'no known-incompatible package in the dependency tree (npm registry)',
  D03: 'dependencies admit their latest versions (npm registry)',
};

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', timeout: 300000, killSignal: 'SIGKILL', ...opts });
  if (r.error) throw new Error(cmd + ' ' + args.join(' ') + ': ' + r.error.message);
  if (r.status !== 0) throw new Error(cmd + ' ' + args.join(' ') + ' exited ' + (r.status ?? r.signal) + '\n' + (r.stdout || '') + (r.stderr || ''));
  return r;
}

function findNodeRedDev() {
  for (const base of [root, toolDir]) {
    try {
      return path.join(path.dirname(require.resolve('node-red-dev/package.json', { paths: [base] })), 'bin', 'run');
    } catch {
      /* next */
    }
  }
  console.error('[validate] installing ' + NODE_RED_DEV + ' into ' + path.relative(root, toolDir) + ' (once)');
  fs.mkdirSync(toolDir, { recursive: true });
  fs.writeFileSync(path.join(toolDir, 'package.json'), JSON.stringify({ name: 'ovi-tool-node-red-dev', private: true }) + '\n');
  sh(NPM, ['install', ...NPM_FLAGS, NODE_RED_DEV], { cwd: toolDir });
  return path.join(toolDir, 'node_modules', 'node-red-dev', 'bin', 'run');
}

function packed() {
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  const out = sh(NPM, ['pack', '--json', '--pack-destination', work, ...NPM_FLAGS]).stdout;
  const info = JSON.parse(out.slice(out.indexOf('[')))[0];
  const dir = path.join(work, 'package');
  fs.mkdirSync(dir);
  sh('tar', ['-xzf', path.join(work, info.filename), '-C', dir, '--strip-components=1']);
  return { dir, info };
}

function main() {
  const argv = process.argv.slice(2);
  const jsonOnly = argv.includes('--json');
  const pi = argv.indexOf('--path');
  let target;
  if (pi >= 0) {
    target = path.resolve(argv[pi + 1] || '.');
  } else {
    const p = packed();
    target = p.dir;
    if (!jsonOnly)
      console.log(
        '[validate] ' +
          p.info.filename +
          ' (' +
          (p.info.size / 1024).toFixed(1) +
          ' kB, ' +
          p.info.entryCount +
          ' files) unpacked in ' +
          path.relative(root, target),
      );
  }
  const bin = findNodeRedDev();
  const registry = process.env.OVI_NPM_REGISTRY || sh(NPM, ['config', 'get', 'registry']).stdout.trim();
  const scoreFile = path.join(work, 'scorecard.json');
  fs.mkdirSync(work, { recursive: true });
  fs.rmSync(scoreFile, { force: true });
  const r = spawnSync(process.execPath, ['-r', path.join(__dirname, 'node-red-dev-offline.js'), bin, 'validate', '-p', target, '-o', scoreFile], {
    cwd: target,
    encoding: 'utf8',
    env: { ...process.env, OVI_NPM_REGISTRY: registry },
    stdio: jsonOnly ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'],
    timeout: 300000,
    killSignal: 'SIGKILL',
  });
  if (!fs.existsSync(scoreFile)) {
    console.error('[validate] node-red-dev wrote no scorecard (exit ' + (r.status ?? r.signal) + (r.error ? ', ' + r.error.message : '') + ')');
    if (jsonOnly) console.error((r.stdout || '') + (r.stderr || ''));
    process.exit(2);
  }
  const card = JSON.parse(fs.readFileSync(scoreFile, 'utf8'));
  if (jsonOnly) {
    console.log(JSON.stringify(card, null, 2));
  }
  const offlineCatalogue = !process.env.NODE_RED_CATALOGUE;
  const rows = [];
  let failed = 0;
  for (const [id, what] of Object.entries(CHECKS)) {
    const c = card[id];
    let verdict;
    if (!c) verdict = 'not run';
    else if (c.test) verdict = 'pass';
    else verdict = ACCEPTED[id] ? 'fail (accepted)' : 'FAIL';
    // P04: node-red-dev prints the scoped-name warning but records a pass; show both.
    if (id === 'P04' && c && c.test && !/^@/.test(card.package.name)) verdict = 'pass (warns: not scoped, accepted)';
    let note = '';
    if ((id === 'P08' || id === 'N01') && offlineCatalogue) note = 'unproven offline: empty catalogue stand-in';
    if (id === 'N02' && c && c.nodes) note = 'examples cover: ' + c.nodes.join(', ');
    if (id === 'P06' && c && c.versions) note = 'Node-RED ' + c.versions.join(', ');
    if (id === 'D01' && c) note = c.total + ' dependencies';
    if (id === 'D03' && c && c.packages) note = 'behind: ' + c.packages.join(', ');
    if (verdict === 'FAIL' || verdict === 'not run') failed++;
    rows.push([id, verdict, what, note]);
  }
  const log = (...a) => {
    if (!jsonOnly) console.log(...a);
  };
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((x) => x[i].length)));
  log('\nFlow Library scorecard (' + card.package.name + '@' + card.package.version + '):');
  for (const x of rows) log(('  ' + x[0].padEnd(w[0]) + '  ' + x[1].padEnd(w[1]) + '  ' + x[2].padEnd(w[2]) + (x[3] ? '  [' + x[3] + ']' : '')).trimEnd());
  log('  (P02 is disabled in node-red-dev ' + NODE_RED_DEV.split('@')[1] + '; scorecard written to ' + path.relative(root, scoreFile) + ')');
  if (failed) {
    log('\n' + failed + ' check(s) failing.');
    process.exit(1);
  }
  log('\nAll checks pass' + (offlineCatalogue ? ' (P08 and N01 against an empty catalogue: unproven offline)' : '') + '.');
}

main();
