'use strict';
// A real Node-RED (the devDependency), embedded in this process the documented way (RED.init on our
// own HTTP server, RED.start), with a fresh userDir in which this package is installed as a link —
// the way scripts/start.js installs it. Flows are deployed through the admin HTTP API, exactly as
// the editor deploys them. Nothing of node-red-node-test-helper is used here: it wraps Node
// methods in sinon spies that record every call, which would distort both CPU and heap numbers.
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const PKG = require(path.join(ROOT, 'package.json'));

function request(method, url, { headers = {}, body, timeoutMs = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const h = { ...headers };
    if (data !== undefined) {
      h['Content-Type'] = h['Content-Type'] || 'application/json';
      h['Content-Length'] = Buffer.byteLength(data);
    }
    const req = http.request(url, { method, headers: h, timeout: timeoutMs, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error(method + ' ' + url + ': no answer within ' + timeoutMs + ' ms')));
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

/**
 * A private copy of the package as built (package.json + dist/, node_modules linked), so a rebuild of
 * dist/ while the bench runs (another `npm test`, an editor's watch) cannot change the code under
 * measurement halfway through. Returns its directory; remove it when done.
 */
async function snapshotPackage({ waitMs = 60000 } = {}) {
  const needed = () => [...Object.values((PKG['node-red'] || {}).nodes || {}), 'dist/simulator/server.js', 'dist/nodes/lib/runware-client.js'];
  const complete = (root) => needed().every((f) => fs.existsSync(path.join(root, f)));
  // A build may be halfway (tsc rewrites dist/): wait for a complete one.
  const deadline = Date.now() + waitMs;
  while (!complete(ROOT)) {
    if (Date.now() > deadline)
      throw new Error(
        'dist/ is incomplete (run `node scripts/build.js` first): missing ' +
          needed()
            .filter((f) => !fs.existsSync(path.join(ROOT, f)))
            .join(', '),
      );
    await new Promise((r) => setTimeout(r, 500));
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ovi-bench-pkg-'));
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  fs.cpSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  if (!complete(dir)) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error('dist/ changed while it was being copied (a build running?): run the bench again');
  }
  return dir;
}

/**
 * Start Node-RED. Resolves { RED, url, userDir, version, logs, deploy(flows), getNode(id), stop() }.
 * Warnings and errors logged by nodes are kept in `logs` (not printed), so a broken run shows up in
 * the results instead of scrolling past.
 */
async function startNodeRed(pkgDir = ROOT) {
  const RED = require('node-red');
  const express = require('express');
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ovi-bench-'));
  fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', version: '0.0.1', private: true }) + '\n');
  fs.mkdirSync(path.join(userDir, 'node_modules'), { recursive: true });
  fs.symlinkSync(pkgDir, path.join(userDir, 'node_modules', PKG.name), 'dir');

  const logs = [];
  const app = express();
  const server = http.createServer(app);
  const settings = {
    userDir,
    flowFile: 'flows.json',
    credentialSecret: 'ovi-bench',
    httpAdminRoot: '/admin',
    httpNodeRoot: '/',
    disableEditor: true,
    functionExternalModules: false,
    telemetry: { enabled: false },
    diagnostics: { enabled: false },
    editorTheme: { tours: false, projects: { enabled: false } },
    logging: {
      console: { level: 'off', metrics: false, audit: false },
      bench: {
        level: 'warn',
        metrics: false,
        audit: false,
        handler: () => (entry) => {
          if (logs.length < 200) logs.push({ level: entry.level, type: entry.type, id: entry.id, msg: String(entry.msg).slice(0, 300) });
          else logs.dropped = (logs.dropped || 0) + 1;
        },
      },
    },
  };
  RED.init(server, settings);
  app.use(settings.httpAdminRoot, RED.httpAdmin);
  app.use(settings.httpNodeRoot, RED.httpNode);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const url = 'http://127.0.0.1:' + server.address().port;
  await RED.start();

  let deployed = [];
  async function deploy(flows) {
    const r = await request('POST', url + settings.httpAdminRoot + '/flows', {
      headers: { 'Node-RED-Deployment-Type': 'full', 'Node-RED-API-Version': 'v1' },
      body: flows,
    });
    if (r.status !== 204 && r.status !== 200) throw new Error('deploy answered ' + r.status + ': ' + r.body);
    const ids = flows.filter((n) => n.type !== 'tab').map((n) => n.id);
    const deadline = Date.now() + 20000;
    while (ids.some((id) => !RED.nodes.getNode(id))) {
      if (Date.now() > deadline) {
        const missing = ids.filter((id) => !RED.nodes.getNode(id));
        throw new Error('nodes not started after deploy: ' + missing.join(', ') + '\n' + JSON.stringify(logs.slice(-5)));
      }
      await new Promise((r2) => setTimeout(r2, 20));
    }
    // Credentials sent with the flow must have reached the nodes (a node without its token or key
    // would measure error paths, or silently fall back to the environment).
    for (const n of flows.filter((x) => x.credentials)) {
      const got = RED.nodes.getCredentials(n.id) || {};
      const missing = Object.keys(n.credentials).filter((k) => got[k] !== n.credentials[k]);
      if (missing.length) throw new Error('deploy: credentials ' + missing.join(', ') + ' of node ' + n.id + ' were not applied');
    }
    deployed = ids;
  }
  // The first deploy after start races Node-RED's own loading of the (empty) credentials file and
  // can lose the credentials it carries: make that first deploy an empty one.
  await deploy([]);

  return {
    RED,
    url,
    userDir,
    version: RED.version(),
    logs,
    deploy,
    /** Remove every flow (closes our config nodes: clients, schedulers, stores). */
    clear: () => deploy([]),
    getNode: (id) => RED.nodes.getNode(id),
    get deployed() {
      return deployed;
    },
    async stop() {
      try {
        await deploy([]);
      } catch {
        /* stopping anyway */
      }
      await RED.stop();
      server.closeAllConnections();
      await new Promise((r) => server.close(() => r()));
      fs.rmSync(userDir, { recursive: true, force: true });
    },
  };
}

module.exports = { startNodeRed, snapshotPackage, request, ROOT };
