#!/usr/bin/env node
// npm test: build, lint, then every mocha suite (unit, Node-RED integration, package/tarball,
// compatibility matrix, reliability, browser). Ends with one plain line "N passed, N failed, N skipped".
'use strict';
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const pkg = require(path.join(root, 'package.json'));

function step(name, cmd, args) {
  console.log('\n== ' + name);
  try {
    execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
  } catch {
    console.log('\n' + name + ' failed (see above)\n0 passed, 1 failed, 0 skipped');
    process.exit(1);
  }
}

step('build', process.execPath, [path.join(root, 'scripts', 'build.js')]);
if (pkg.scripts && pkg.scripts.lint) step('lint', 'npm', ['run', '--silent', 'lint']);

console.log('\n== tests');
const mocha = spawn(process.execPath, [require.resolve('mocha/bin/mocha.js'), ...process.argv.slice(2)], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
let tail = '';
mocha.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk).slice(-20000);
});
mocha.on('exit', (code) => {
  const count = (word) => Number((new RegExp('(\\d+) ' + word).exec(tail) || [0, 0])[1]);
  const passed = count('passing');
  const failed = count('failing');
  const skipped = count('pending');
  console.log('\n' + passed + ' passed, ' + failed + ' failed, ' + skipped + ' skipped');
  if (fs.existsSync(path.join(root, 'test-artifacts'))) console.log('artifacts: test-artifacts/');
  process.exit(code === 0 && passed > 0 ? 0 : code || 1);
});
