'use strict';
// Fuzz: 10,000 hostile POSTs at ovi webhook over real HTTP (seeded, reproducible): no token, wrong
// tokens, bad JSON, 10 MB bodies, other content types, prototype-pollution payloads, valid-looking
// results with a wrong token. Every hostile request gets a 4xx and emits nothing; the few crafted to
// be valid (right token) get a 200 and emit exactly once; the heap stays flat; nothing is polluted.
const assert = require('assert');
const crypto = require('crypto');
const http = require('http');
const { helper, startSim, configNode, load, httpNodeServer } = require('../helpers');
const { SEED, rng, sleep, text, send, pool, rejectionCounter, heapUsed, mb, leaks, helperLogText, statusRecorder, report } = require('./support');

const COUNT = Number(process.env.FUZZ_POSTS || 10000);
const API_KEY = 'rel-hook-key-Ys4Vb9Nd2Wq7';
const TOKEN = 'rel-hook-token-Gm6Rc1Jx8Tz3';
const PATH = '/rel/fuzz';
const TEN_MB = Buffer.alloc(10 * 1024 * 1024, 0x20); // spaces: a JSON-ish body, one instance

const item = (taskUUID = crypto.randomUUID(), videoUUID = crypto.randomUUID()) => ({
  taskType: 'videoInference',
  taskUUID,
  status: 'success',
  videoUUID,
  videoURL: 'https://example.com/' + videoUUID + '.mp4',
  seed: 7,
});

/**
 * One hostile request: { query, headers, body, expect (a status or a predicate), what }. `valid` ones
 * carry the right token and a well-formed result: they must be answered 200 and emitted once.
 */
function hostile(r, i, bigLeft) {
  const json = { 'Content-Type': 'application/json' };
  const tok = '?token=' + encodeURIComponent(TOKEN);
  const k = r.int(0, 13);
  switch (k) {
    case 0:
      return { what: 'no token', query: '', headers: json, body: JSON.stringify(item()), expect: 401 };
    case 1:
      return { what: 'empty token', query: '?token=', headers: json, body: JSON.stringify(item()), expect: 401 };
    case 2: {
      const wrong = r.pick([TOKEN.slice(0, -1), TOKEN + 'x', TOKEN.toUpperCase(), 'x', crypto.randomBytes(24).toString('hex'), ' ' + TOKEN, TOKEN + '\u0000']);
      return { what: 'wrong token', query: '?token=' + encodeURIComponent(wrong), headers: json, body: JSON.stringify(item()), expect: 403 };
    }
    case 3:
      return { what: 'token twice', query: tok + '&token=' + encodeURIComponent(TOKEN), headers: json, body: JSON.stringify(item()), expect: 403 };
    case 4:
      return {
        what: 'token in a header',
        query: '',
        headers: { ...json, Authorization: 'Bearer ' + TOKEN, 'X-Token': TOKEN },
        body: JSON.stringify(item()),
        expect: 401,
      };
    case 5: {
      const body = r.pick([
        '{',
        '{"taskUUID":',
        'nul',
        '{"a":1}}',
        "{'taskUUID':'x'}",
        crypto.randomBytes(r.int(1, 512)).toString('latin1'),
        '\uFEFF{"x":1',
        '['.repeat(100000),
      ]);
      return { what: 'bad JSON', query: tok, headers: json, body, expect: 400 };
    }
    case 6: {
      const type = r.pick([
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/jsonx',
        'application/xml',
        'json',
        '',
      ]);
      // Runware's Content-Type is undocumented and the token authenticates: valid JSON is a delivery whatever its type.
      const headers = type ? { 'Content-Type': type } : {};
      const it = item();
      return { what: 'other content type', valid: true, key: it.taskUUID + ':' + it.videoUUID, query: tok, headers, body: JSON.stringify(it), expect: 200 };
    }
    case 7: {
      const body = r.pick([
        '{"__proto__": {"polluted": "yes"}}',
        '{"constructor": {"prototype": {"polluted": "yes"}}}',
        '{"data": [{"__proto__": {"polluted": "yes"}}]}',
        '{"data": [{"taskUUID": {"__proto__": {"polluted": "yes"}}}]}',
        '{"errors": [{"__proto__": {"polluted": "yes"}, "code": "x"}]}',
        '{"error": {"constructor": {"prototype": {"polluted": "yes"}}}}',
        '[{"__proto__": {"polluted": "yes"}}]',
      ]);
      // An error entry that names no task is answered 2xx (Runware would resend it otherwise), logged, and emits nothing.
      const unattributed = body.startsWith('{"errors"');
      return {
        what: unattributed ? 'error naming no task' : 'pollution, invalid shape',
        acknowledged: unattributed,
        query: tok,
        headers: json,
        body,
        expect: unattributed ? 200 : 400,
      };
    }
    case 8: {
      const body = r.pick([
        'null',
        '5',
        '"a string"',
        '[]',
        '{}',
        '{"data": []}',
        '{"errors": []}',
        JSON.stringify({ data: Array.from({ length: 17 }, () => item()) }),
        JSON.stringify(item('x'.repeat(101))),
        JSON.stringify({ ...item(), taskUUID: 5 }),
        JSON.stringify({ data: [{ status: 'success' }] }),
        JSON.stringify({ data: 'x' }),
      ]);
      return { what: 'wrong shape', query: tok, headers: json, body, expect: 400 };
    }
    case 9: {
      const body = JSON.stringify(r.chance(0.5) ? item() : { data: [item(), item()] });
      return { what: 'valid-looking, wrong token', query: '?token=' + encodeURIComponent(TOKEN.slice(1)), headers: json, body, expect: 403 };
    }
    case 10: {
      if (bigLeft.count <= 0) return hostile(r, i, bigLeft);
      bigLeft.count--;
      // 10 MB: with the right token (413 or the connection closed on the upload), declared or
      // chunked, or with a wrong one (403): in turn, so every run has each.
      const right = bigLeft.count % 3 !== 0;
      const chunked = bigLeft.count % 3 === 1;
      return {
        what: '10 MB body' + (chunked ? ' (chunked)' : ''),
        query: right ? tok : '?token=nope',
        headers: chunked ? { ...json, 'Transfer-Encoding': 'chunked' } : json,
        body: TEN_MB,
        expect: right ? (s) => s === 413 || s === 0 : (s) => s === 403 || s === 0,
      };
    }
    case 11:
      return { what: 'GET', method: 'GET', query: tok, headers: {}, body: undefined, expect: 404 };
    case 12: {
      // Crafted valid: a result for a task this Node-RED never submitted (emitted once, uncorrelated),
      // sometimes carrying pollution keys, sometimes redelivered.
      const polluted = r.chance(0.3);
      const it = item();
      const body = polluted
        ? JSON.stringify(it).replace(/^\{/, '{"__proto__": {"polluted": "yes"}, "constructor": {"prototype": {"polluted": "yes"}}, ')
        : JSON.stringify(it);
      return { what: 'valid', valid: true, key: it.taskUUID + ':' + it.videoUUID, redeliver: r.chance(0.2), query: tok, headers: json, body, expect: 200 };
    }
    default: {
      // Crafted valid failure for an unknown task: goes to Catch nodes once.
      const uuid = crypto.randomUUID();
      return {
        what: 'valid failure',
        validError: true,
        key: uuid,
        query: tok,
        headers: json,
        body: JSON.stringify({ errors: [{ code: 'inferenceError', message: 'x', taskUUID: uuid }] }),
        expect: 200,
      };
    }
  }
}

describe('reliability: fuzzing ovi webhook', function () {
  this.timeout(240000);
  let sim;
  let hooks;
  before(async () => {
    sim = await startSim({ apiKeys: [API_KEY] });
    hooks = await httpNodeServer();
    await helper.startServer();
  });
  after(async () => {
    await helper.unload();
    await helper.stopServer();
    await hooks.close();
    await sim.close();
  });

  it(COUNT + ' hostile POSTs: 4xx and no output for each, one output per crafted valid one, heap flat', async () => {
    await load(
      [
        configNode(sim, { publicUrl: hooks.url }),
        { id: 'hook', type: 'ovi-webhook', config: 'cfg', path: PATH, wires: [['results']] },
        { id: 'results', type: 'helper' },
        { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['errors']] },
        { id: 'errors', type: 'helper' },
      ],
      { cfg: { apiKey: API_KEY }, hook: { token: TOKEN } },
    );
    const rejections = rejectionCounter();
    const statuses = statusRecorder(helper, ['hook']);
    const outputs = [];
    const caught = [];
    helper.getNode('results').on('input', (m) =>
      outputs.push({
        key: m.taskUUID + ':' + m.payload.videoUUID,
        proto: Object.getPrototypeOf(m.payload) === Object.prototype,
        polluted: m.payload.polluted,
        text: text(m),
      }),
    );
    helper.getNode('errors').on('input', (m) => caught.push({ key: m.taskUUID, text: text(m) }));

    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    const r = rng(SEED);
    const bigLeft = { count: 6 };
    const byWhat = {};
    const statusesSeen = {};
    const bigStatuses = [];
    const wrong = [];
    const validKeys = new Set();
    const validErrorKeys = new Set();
    const fire = async (req) => {
      const res = await send(hooks.url + PATH + req.query, { method: req.method || 'POST', headers: req.headers, body: req.body, agent, timeoutMs: 30000 });
      const s = res.status;
      statusesSeen[s] = (statusesSeen[s] || 0) + 1;
      if (req.what.startsWith('10 MB'))
        bigStatuses.push(req.what.replace('10 MB body', '').trim() + (req.query === '?token=nope' ? 'wrong token' : 'right token') + '→' + (s || res.error));
      const ok = typeof req.expect === 'function' ? req.expect(s) : s === req.expect;
      if (!ok) wrong.push(req.what + ': ' + s + ' ' + (res.error || (res.body || '').slice(0, 80)));
      if (!req.valid && !req.validError && !req.acknowledged && (s < 400 || s >= 500) && s !== 0) wrong.push(req.what + ' answered ' + s);
    };
    const one = async (i) => {
      const req = hostile(r, i, bigLeft);
      byWhat[req.what] = (byWhat[req.what] || 0) + 1;
      if (req.valid) validKeys.add(req.key);
      if (req.validError) validErrorKeys.add(req.key);
      await fire(req);
      if (req.redeliver) await fire(req);
    };

    const started = Date.now();
    const WARMUP = Math.min(500, COUNT);
    await pool(WARMUP, 16, one);
    const heapBefore = await heapUsed();
    await pool(COUNT - WARMUP, 16, (i) => one(i + WARMUP));
    await sleep(500); // emits happen after the 200 (setImmediate): let them land
    const heapAfter = await heapUsed();
    agent.destroy();
    rejections.stop();

    const outKeys = outputs.map((o) => o.key);
    const dupOutputs = outKeys.length - new Set(outKeys).size;
    report('fuzz ovi webhook', {
      seed: SEED,
      posts: COUNT,
      kinds: byWhat,
      statuses: statusesSeen,
      tenMB: bigStatuses.join(', '),
      validSent: validKeys.size,
      outputs: outputs.length,
      validFailuresSent: validErrorKeys.size,
      caught: caught.length,
      heap:
        mb(heapBefore) +
        ' → ' +
        mb(heapAfter) +
        ' (' +
        ((heapAfter - heapBefore) / 1048576 >= 0 ? '+' : '') +
        ((heapAfter - heapBefore) / 1048576).toFixed(1) +
        ' MB)',
      unhandledRejections: rejections.count,
      durationS: ((Date.now() - started) / 1000).toFixed(1),
    });

    assert.deepStrictEqual(wrong.slice(0, 10), [], wrong.length + ' requests answered other than expected');
    assert.strictEqual(dupOutputs, 0, 'no result emitted twice');
    assert.deepStrictEqual(
      outKeys.filter((k) => !validKeys.has(k)),
      [],
      'outputs that no crafted valid POST asked for',
    );
    assert.strictEqual(outputs.length, validKeys.size, 'one output per crafted valid result');
    assert.deepStrictEqual(
      caught.map((c) => c.key).filter((k) => !validErrorKeys.has(k)),
      [],
      'failures that no crafted POST asked for',
    );
    assert.strictEqual(caught.length, validErrorKeys.size, 'one failure per crafted valid failure');
    assert.ok(
      outputs.every((o) => o.proto && o.polluted === undefined),
      'emitted payloads are plain objects with no inherited "polluted"',
    );
    assert.strictEqual({}.polluted, undefined, 'Object.prototype untouched');
    assert.strictEqual(rejections.count, 0, 'unhandled rejections');
    assert.ok(heapAfter - heapBefore < 50 * 1048576, 'heap grew ' + mb(heapAfter - heapBefore));

    const found = leaks([API_KEY, TOKEN], {
      outputs: outputs.map((o) => o.text).join('\n'),
      caught: caught.map((c) => c.text).join('\n'),
      log: helperLogText(helper),
      status: statuses.join('\n'),
    });
    assert.deepStrictEqual(found, [], 'secrets leaked');
  });
});
