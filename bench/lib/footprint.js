'use strict';
// Footprint on a small device: an idle Node-RED (no flows) with this package installed vs a bare
// one, each started as its own process with the node-red command and its default settings,
// alternating, several rounds. Start time: spawn → "Started flows" on its log. RSS: the process's
// resident set once idle (after a settle time). The differences are taken within each round.
const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');
const { performance } = require('perf_hooks');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Resident set size in MB (Linux /proc; elsewhere ps). */
function rssMB(pid) {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync('/proc/' + pid + '/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    /* not Linux */
  }
  const { execFileSync } = require('child_process');
  return Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim()) / 1024;
}

function getJson(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { Accept: 'application/json' }, agent: false, timeout: 10000 }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch (e) {
            reject(e);
          }
        });
      })
      .on('error', reject);
  });
}

/** One idle Node-RED: { startMs, rssMB, loaded } (loaded: our nodes are in its palette). */
async function idleOnce({ pkgDir, pkgName, withPackage, settleMs }) {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ovi-bench-idle-'));
  fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', version: '0.0.1', private: true }) + '\n');
  fs.mkdirSync(path.join(userDir, 'node_modules'));
  if (withPackage) fs.symlinkSync(pkgDir, path.join(userDir, 'node_modules', pkgName), 'dir');
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, [require.resolve('node-red/red.js'), '--userDir', userDir, '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const exited = new Promise((r) => child.once('exit', r));
  let log = '';
  try {
    const readyAt = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('idle Node-RED did not start within 60 s:\n' + log.slice(-2000))), 60000);
      child.stdout.on('data', (c) => {
        log += c;
        if (/Started flows/.test(log)) {
          clearTimeout(timer);
          resolve(performance.now());
        }
      });
      child.stderr.on('data', (c) => (log += c));
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error('idle Node-RED exited (' + code + '):\n' + log.slice(-2000)));
      });
    });
    await sleep(settleMs);
    const rss = rssMB(child.pid);
    const nodes = await getJson('http://127.0.0.1:' + port + '/nodes');
    const loaded = Array.isArray(nodes) && nodes.some((s) => s.module === pkgName && s.enabled && !s.err && s.types.length > 0);
    return { startMs: readyAt - t0, rssMB: rss, loaded };
  } finally {
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
    fs.rmSync(userDir, { recursive: true, force: true });
  }
}

/** `rounds` pairs, the order alternating (ABBA), after one unmeasured warm-up pair (disk cache). */
async function footprint({ pkgDir, pkgName, rounds, settleMs, log }) {
  await idleOnce({ pkgDir, pkgName, withPackage: false, settleMs: 0 });
  await idleOnce({ pkgDir, pkgName, withPackage: true, settleMs: 0 });
  const pairs = [];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? [false, true] : [true, false];
    const pair = {};
    for (const withPackage of order) pair[withPackage ? 'ours' : 'bare'] = await idleOnce({ pkgDir, pkgName, withPackage, settleMs });
    if (!pair.ours.loaded || pair.bare.loaded) throw new Error('footprint: the package was ' + (pair.ours.loaded ? '' : 'not ') + 'loaded where expected');
    pairs.push(pair);
    log(
      '  round ' +
        (r + 1) +
        ': start ' +
        Math.round(pair.bare.startMs) +
        ' → ' +
        Math.round(pair.ours.startMs) +
        ' ms, RSS ' +
        pair.bare.rssMB.toFixed(1) +
        ' → ' +
        pair.ours.rssMB.toFixed(1) +
        ' MB',
    );
  }
  return pairs;
}

module.exports = { footprint };
