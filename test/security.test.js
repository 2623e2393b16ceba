'use strict';
// Security review findings, each shown closed, against the PACKED package in a real Node-RED 4.1
// (adminAuth off, Node-RED's default, and on). Everything on 127.0.0.1: a "trap" server stands for
// any destination a caller might choose, and records what reaches it.
const assert = require('assert');
const fs = require('fs');
const http = require('http');
const path = require('path');
const { useRealNodeRed, request, deploy, sleep } = require('./support/real-node-red');

const KEY = 'sim-key-security-0123456789';
const TOKEN = 'sec-webhook-token-0123456789abcdef';
const SECRET_ENV = 'ovi-secret-env-value-42';

/** An HTTP server that records every request (method, url, headers) and answers via `handler`. */
async function trapServer(handler = (req, res) => res.end('ok')) {
  const seen = [];
  const closed = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, headers: req.headers });
    req.socket.once('close', () => closed.push(req.url));
    handler(req, res);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: 'http://127.0.0.1:' + server.address().port,
    seen,
    closed,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function users() {
  const bcrypt = require('bcryptjs');
  return {
    type: 'credentials',
    users: [
      { username: 'admin', password: bcrypt.hashSync('admin-pw', 8), permissions: '*' },
      { username: 'reader', password: bcrypt.hashSync('reader-pw', 8), permissions: 'read' },
    ],
  };
}

async function tokenFor(red, username, password, scope = '*') {
  const r = await request('POST', red.adminUrl + '/auth/token', {
    body: { client_id: 'node-red-admin', grant_type: 'password', scope, username, password },
  });
  assert.strictEqual(r.status, 200, r.body);
  return r.json().access_token;
}

for (const auth of [false, true]) {
  describe('security (packed package, real Node-RED, adminAuth ' + (auth ? 'on' : 'off') + ')', function () {
    this.timeout(300000);
    const rt = useRealNodeRed({
      key: KEY,
      simOptions: { renderMs: 100 },
      env: (s) => (url) => ({ RUNWARE_ENDPOINT: s.url, RUNWARE_API_KEY: KEY, OVI_PUBLIC_URL: url, OVI_SECRET_FOR_TEST: SECRET_ENV }),
      settings: auth ? { adminAuth: users() } : {},
    });
    let red;
    let sim;
    let userDir;
    let collector;
    let trap;
    let headers = {};

    before(async function () {
      ({ red, sim, userDir, collector } = rt);
      trap = await trapServer();
      if (auth) headers = { Authorization: 'Bearer ' + (await tokenFor(red, 'admin', 'admin-pw')) };
    });
    after(() => trap && trap.close());

    const admin = (method, p, opts = {}) => request(method, red.adminUrl + p, { ...opts, headers: { ...headers, ...(opts.headers || {}) } });

    /** A flow: config (key as credential) → submit → poll (buffer mode) → collector; webhook (two wires) + Catch. */
    function flow({ endpoint = '${RUNWARE_ENDPOINT}', output = 'buffer', downloadTimeout = 2, acceptForeign = false } = {}) {
      const tab = { id: 'sec.tab', type: 'tab', label: 'security' };
      const report = (id, p) => ({ id, type: 'http request', z: tab.id, method: 'POST', ret: 'txt', url: collector.url + p, wires: [[]] });
      return [
        tab,
        { id: 'sec.cfg', type: 'ovi-config', endpoint, publicUrl: '${OVI_PUBLIC_URL}', credentials: { apiKey: KEY } },
        { id: 'sec.submit', type: 'ovi-submit', z: tab.id, config: 'sec.cfg', wires: [['sec.poll']] },
        {
          id: 'sec.poll',
          type: 'ovi-poll',
          z: tab.id,
          config: 'sec.cfg',
          initialDelay: 0.1,
          maxInterval: 0.3,
          output,
          downloadTimeout,
          wires: [['sec.summary']],
        },
        {
          id: 'sec.hook',
          type: 'ovi-webhook',
          z: tab.id,
          config: 'sec.cfg',
          path: '/sec/hook',
          output,
          downloadTimeout,
          acceptForeign,
          wires: [['sec.summary', 'sec.summary2']],
          credentials: { token: TOKEN },
        },
        {
          id: 'sec.summary',
          type: 'function',
          z: tab.id,
          func: 'msg.payload = Buffer.isBuffer(msg.payload) ? {bytes: msg.payload.length} : msg.payload; return msg;',
          outputs: 1,
          wires: [['sec.result']],
        },
        { id: 'sec.summary2', type: 'function', z: tab.id, func: 'return null;', outputs: 1, wires: [[]] },
        { id: 'sec.catch', type: 'catch', z: tab.id, scope: null, uncaught: false, wires: [['sec.move']] },
        { id: 'sec.move', type: 'change', z: tab.id, rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'error', tot: 'msg' }], wires: [['sec.error']] },
        report('sec.result', '/result'),
        report('sec.error', '/error'),
      ];
    }

    async function nextError(since, ms = 20000) {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        const errs = (collector.got['/error'] || []).slice(since);
        if (errs.length) return errs[0];
        await sleep(100);
      }
      throw new Error('no error reached the Catch node within ' + ms + ' ms');
    }
    const errorCount = () => (collector.got['/error'] || []).length;

    async function alive() {
      const r = await admin('GET', '/settings', { headers: { Accept: 'application/json' } });
      assert.strictEqual(r.status, 200, 'Node-RED still answers');
      assert.strictEqual(red.child.exitCode, null, 'Node-RED is still running');
    }

    it('Test connection never sends the stored key (or RUNWARE_API_KEY) to an endpoint the caller names; no form posts', async () => {
      await deploy(red, flow(), headers);
      await sleep(300);
      const calls = [
        { id: 'sec.cfg', endpoint: trap.url + '/v1' },
        { id: 'sec.cfg', endpoint: trap.url + '/v1', apiKey: '__PWRD__' },
        { endpoint: trap.url + '/v1' }, // no id: the environment's key must not go there either
        { id: 'nope', endpoint: trap.url + '/v1' },
      ];
      for (const body of calls) {
        const r = await admin('POST', '/ovi/test-connection', { body });
        assert.strictEqual(r.status, 200);
        const a = r.json();
        assert.strictEqual(a.ok, false, JSON.stringify(a));
        assert.strictEqual(a.status, 'needKey');
        assert.ok(!r.body.includes(KEY));
      }
      assert.deepStrictEqual(trap.seen, [], 'nothing reached the caller-named endpoint');
      // The deployed endpoint (as written, "${RUNWARE_ENDPOINT}") with the stored key: fine.
      const ok = await admin('POST', '/ovi/test-connection', { body: { id: 'sec.cfg', endpoint: '${RUNWARE_ENDPOINT}' } });
      assert.strictEqual(ok.json().status, 'ok', ok.body);
      // A form post (what any web page can send cross-origin when adminAuth is off) is refused.
      const form = await admin('POST', '/ovi/test-connection', {
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'id=sec.cfg&endpoint=' + encodeURIComponent(trap.url + '/v1'),
      });
      assert.strictEqual(form.status, 415);
      assert.deepStrictEqual(trap.seen, []);
    });

    it('Test connection does not expand environment variables in caller input, nor reflect them', async () => {
      const r = await admin('POST', '/ovi/test-connection', { body: { endpoint: trap.url + '/${OVI_SECRET_FOR_TEST}', apiKey: 'typed-key-123456' } });
      assert.ok(!r.body.includes(SECRET_ENV), r.body);
      assert.strictEqual(r.json().ok, false);
      const r2 = await admin('POST', '/ovi/test-connection', { body: { endpoint: trap.url + '/v1', apiKey: '${OVI_SECRET_FOR_TEST}' } });
      assert.ok(!r2.body.includes(SECRET_ENV), r2.body);
      assert.ok(!trap.seen.some((s) => JSON.stringify(s).includes(SECRET_ENV)), 'no variable left the process');
    });

    if (auth) {
      it('with adminAuth: no token → 401, a read-only user cannot run Test connection or read the cost without read permission on it', async () => {
        const anon = await request('POST', red.adminUrl + '/ovi/test-connection', { body: { id: 'sec.cfg' } });
        assert.strictEqual(anon.status, 401);
        const reader = { Authorization: 'Bearer ' + (await tokenFor(red, 'reader', 'reader-pw', 'read')) };
        const denied = await request('POST', red.adminUrl + '/ovi/test-connection', { headers: reader, body: { id: 'sec.cfg' } });
        assert.strictEqual(denied.status, 401);
        assert.strictEqual((await request('GET', red.adminUrl + '/ovi/cost/sec.cfg')).status, 401);
      });
    }

    it('a trickling download ends at its deadline, with its socket closed, as a download error', async () => {
      const slow = await trapServer((req, res) => {
        res.writeHead(200, { 'Content-Type': 'video/mp4' });
        const t = setInterval(() => res.write(Buffer.alloc(1)), 150);
        res.on('close', () => clearInterval(t));
      });
      try {
        sim.configure({ publicUrl: slow.url }); // the result's videoURL points at the trickler
        await deploy(
          red,
          [...flow({ downloadTimeout: 2 }), { id: 'sec.go', type: 'inject', z: 'sec.tab', payload: 'trickle', payloadType: 'str', wires: [['sec.submit']] }],
          headers,
        );
        await sleep(300);
        const since = errorCount();
        const t0 = Date.now();
        await admin('POST', '/inject/sec.go', { body: {} });
        const e = await nextError(since, 30000);
        assert.strictEqual(e.code, 'download');
        assert.match(e.message, /longer than the download timeout/);
        assert.ok(Date.now() - t0 < 25000);
        await sleep(300);
        assert.ok(slow.closed.length >= 1, 'the trickling socket was closed');
      } finally {
        sim.configure({ publicUrl: '' });
        await slow.close();
      }
    });

    it('a forged webhook result pointing at the admin API is not fetched: unknown task, loopback address, cross-host redirect, not a video', async () => {
      // An account on Runware's real (public) endpoint: loopback downloads are not allowed for it.
      await deploy(red, flow({ endpoint: 'https://api.runware.ai/v1', acceptForeign: true }), headers);
      await sleep(300);
      const post = (item) =>
        request('POST', red.url + '/sec/hook?token=' + TOKEN, {
          body: { data: [{ taskType: 'videoInference', status: 'success', videoUUID: require('crypto').randomUUID(), ...item }] },
        });
      let since = errorCount();
      const r = await post({ taskUUID: require('crypto').randomUUID(), videoURL: red.adminUrl + '/flows' });
      assert.strictEqual(r.status, 200);
      let e = await nextError(since);
      assert.strictEqual(e.code, 'download');
      assert.match(e.message, /private or local address/);
      // Not accepting foreign results (the default): refused before any address is looked at.
      await deploy(red, flow({ endpoint: 'https://api.runware.ai/v1', acceptForeign: false }), headers);
      await sleep(300);
      since = errorCount();
      await post({ taskUUID: require('crypto').randomUUID(), videoURL: red.adminUrl + '/flows' });
      e = await nextError(since);
      assert.match(e.message, /not submitted by this account/);
      assert.deepStrictEqual(
        (collector.got['/result'] || []).filter((x) => x && x.bytes),
        [],
        'no bytes were emitted',
      );
    });

    it('downloads refuse cross-host redirects and answers that are not video (simulator endpoint: loopback allowed)', async () => {
      const redirector = await trapServer((req, res) => {
        if (req.url.startsWith('/html')) {
          res.writeHead(200, { 'Content-Type': 'text/html' });
          return res.end('<html>flows</html>');
        }
        res.writeHead(302, { Location: red.adminUrl.replace('127.0.0.1', 'localhost') + '/flows' });
        res.end();
      });
      try {
        await deploy(red, flow({ acceptForeign: true }), headers);
        await sleep(300);
        const post = (videoURL) =>
          request('POST', red.url + '/sec/hook?token=' + TOKEN, {
            body: { data: [{ taskUUID: require('crypto').randomUUID(), status: 'success', videoUUID: require('crypto').randomUUID(), videoURL }] },
          });
        let since = errorCount();
        await post(redirector.url + '/clip.mp4');
        let e = await nextError(since);
        assert.match(e.message, /redirects to another host/);
        since = errorCount();
        await post(redirector.url + '/html');
        e = await nextError(since);
        assert.match(e.message, /text\/html, not a video/);
      } finally {
        await redirector.close();
      }
    });

    it('a webhook body thousands of levels deep: 4xx without internals, with two wires and a Catch node; Node-RED stays up', async () => {
      await deploy(red, flow({ output: 'url' }), headers);
      await sleep(300);
      const deep = (n) => '['.repeat(n) + ']'.repeat(n);
      const bodies = [
        deep(5000),
        '{"taskUUID":"' + require('crypto').randomUUID() + '","status":"success","videoURL":"https://x.example/a.mp4","extra":' + deep(4000) + '}',
        '{"data":[{"taskUUID":"' + require('crypto').randomUUID() + '","status":"success","n":' + '{"a":'.repeat(3000) + '1' + '}'.repeat(3000) + '}]}',
      ];
      for (const body of bodies) {
        for (const type of ['application/json', 'text/plain']) {
          const r = await request('POST', red.url + '/sec/hook?token=' + TOKEN, { headers: { 'Content-Type': type }, body });
          assert.ok(r.status >= 400 && r.status < 500, 'answered ' + r.status);
          assert.ok(r.body.length < 200, 'short answer: ' + r.body.slice(0, 300));
          assert.ok(!/at |\/node_modules\/|\.js:\d+|stack/i.test(r.body), 'no internals: ' + r.body);
        }
      }
      await alive();
    });

    it('plain-http endpoint off this machine: warned at deploy', async () => {
      const before = red.log().length;
      await deploy(red, flow({ endpoint: 'http://runware.example.com/v1' }), headers);
      await sleep(500);
      assert.match(red.log().slice(before), /plain http: the API key travels in clear/);
    });

    it('the journal directory is 0700 and its files 0600', async () => {
      await deploy(
        red,
        [...flow({ output: 'url' }), { id: 'sec.go2', type: 'inject', z: 'sec.tab', payload: 'journal', payloadType: 'str', wires: [['sec.submit']] }],
        headers,
      );
      await sleep(300);
      const before = (collector.got['/result'] || []).length;
      await admin('POST', '/inject/sec.go2', { body: {} });
      for (let i = 0; i < 100 && (collector.got['/result'] || []).length === before; i++) await sleep(100);
      const dir = path.join(userDir, '.ovi');
      assert.strictEqual(fs.statSync(dir).mode & 0o777, 0o700);
      const walk = (d) =>
        fs
          .readdirSync(d, { withFileTypes: true })
          .flatMap((e) => (e.isDirectory() ? [path.join(d, e.name), ...walk(path.join(d, e.name))] : [path.join(d, e.name)]));
      for (const f of walk(dir)) {
        const mode = fs.statSync(f).mode & 0o777;
        assert.strictEqual(mode, fs.statSync(f).isDirectory() ? 0o700 : 0o600, f + ' is ' + mode.toString(8));
      }
    });
  });
}
