'use strict';
// ovi webhook in a real Node-RED, with the simulator delivering real HTTP webhooks to it.
const assert = require('assert');
const { helper, useHarness, KEY, configNode, submitNode, load, place, collector, httpNodeServer, routeCount, sleep } = require('./helpers');

const TOKEN = 'tok-5f2b8c9e0a1d4e7f9b3c6a8d2e4f6a8b';

describe('ovi webhook', function () {
  let sim;
  let hooks;
  useHarness((s) => (sim = s));
  before(async () => {
    hooks = await httpNodeServer();
  });
  after(() => hooks.close());
  beforeEach(() => {
    sim.reset();
    sim.configure({ renderMs: 60, webhooks: true, webhookDuplicates: 0, webhookBeforeAck: false, webhookWrap: 'bare', webhookRetryDelaysMs: [50, 100, 200] });
  });

  function flow({ submit = {}, hook = {}, config = {} } = {}) {
    return [
      configNode(sim, { publicUrl: hooks.url, ...config }),
      submitNode({ delivery: 'webhook', webhookNode: 'hook', wires: [['out']], ...submit }),
      { id: 'hook', type: 'ovi-webhook', config: 'cfg', path: '/ovi/results', maxBody: 65536, wires: [['results']], ...hook },
      { id: 'out', type: 'helper' },
      { id: 'results', type: 'helper' },
      { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['errors']] },
      { id: 'errors', type: 'helper' },
    ];
  }
  const creds = { cfg: { apiKey: KEY }, hook: { token: TOKEN } };

  async function setup(opts) {
    await load(flow(opts), creds);
    return { out: collector('out'), results: collector('results'), errors: collector('errors') };
  }

  function post(path, body, { token = TOKEN, type = 'application/json', raw } = {}) {
    const q = token === null ? '' : '?token=' + encodeURIComponent(token);
    return fetch(hooks.url + path + q, { method: 'POST', headers: { 'Content-Type': type }, body: raw !== undefined ? raw : JSON.stringify(body) });
  }

  const item = (taskUUID, videoUUID = '11111111-2222-4333-8444-555555555555') => ({
    taskType: 'videoInference',
    taskUUID,
    status: 'success',
    videoUUID,
    videoURL: 'https://example.com/v/' + videoUUID + '.mp4',
    seed: 7,
  });

  it('round trip: results arrive by webhook, correlated with the submitting msg', async () => {
    const { out, results } = await setup();
    helper.getNode('submit').receive({ payload: 'by webhook', topic: 'porch', user: 42 });
    const [ack] = await out.next(1);
    assert.strictEqual(ack.ovi.task.webhookURL, hooks.url + '/ovi/results?token=***', 'the token stays out of msgs');
    const sent = sim.requests().find((r) => r.bodyText.includes('videoInference')).bodyText;
    assert.ok(sent.includes('"webhookURL":"' + hooks.url + '/ovi/results?token=' + TOKEN + '"'), sent);
    const [r] = await results.next(1);
    assert.strictEqual(r.taskUUID, ack.taskUUID);
    assert.strictEqual(r.topic, 'porch');
    assert.strictEqual(r.user, 42);
    assert.match(r.payload.videoURL, /\.mp4$/);
    assert.strictEqual(sim.stats().getResponseRequests, 0, 'no polling in webhook mode');
  });

  it('numberResults 4 → four msgs with parts', async () => {
    const { results } = await setup({ submit: { numberResults: 4 } });
    helper.getNode('submit').receive({ payload: 'four' });
    const rs = await results.next(4);
    assert.deepStrictEqual(rs.map((r) => r.parts.index).sort(), [0, 1, 2, 3]);
    assert.ok(rs.every((r) => r.parts.count === 4 && r.parts.id === rs[0].taskUUID));
    await sleep(100);
    assert.strictEqual(results.msgs.length, 4);
  });

  it('accepts results wrapped as {data:[item]} too', async () => {
    sim.configure({ webhookWrap: 'data' });
    const { results } = await setup();
    helper.getNode('submit').receive({ payload: 'wrapped' });
    await results.next(1);
  });

  it('a missing token → 401, a wrong one → 403, nothing emitted', async () => {
    const { results } = await setup();
    const uuid = require('crypto').randomUUID();
    assert.strictEqual((await post('/ovi/results', item(uuid), { token: null })).status, 401);
    assert.strictEqual((await post('/ovi/results', item(uuid), { token: 'wrong' })).status, 403);
    assert.strictEqual((await post('/ovi/results', item(uuid), { token: TOKEN.slice(0, -1) })).status, 403);
    await sleep(100);
    assert.strictEqual(results.msgs.length, 0);
  });

  it('a duplicate delivery is acknowledged and emitted once', async () => {
    sim.configure({ webhookDuplicates: 2 });
    const { results } = await setup({ submit: { numberResults: 2 } });
    helper.getNode('submit').receive({ payload: 'dupes' });
    await results.next(2);
    await sleep(400);
    assert.strictEqual(results.msgs.length, 2);
    assert.ok(sim.stats().webhookDelivered >= 6, 'the simulator delivered each result three times');
  });

  it('redelivering a result by hand after completion is acknowledged, not emitted', async () => {
    const { results } = await setup();
    helper.getNode('submit').receive({ payload: 'once' });
    const [r] = await results.next(1);
    const res = await post('/ovi/results', r.payload);
    assert.strictEqual(res.status, 200);
    await sleep(100);
    assert.strictEqual(results.msgs.length, 1);
  });

  it('a callback that beats the acknowledgment still comes out correlated', async () => {
    sim.configure({ renderMs: 0, webhookBeforeAck: true });
    const { results, out } = await setup();
    helper.getNode('submit').receive({ payload: 'race', topic: 'early-bird' });
    const [r] = await results.next(1);
    assert.strictEqual(r.topic, 'early-bird');
    assert.strictEqual(r.ovi.uncorrelated, undefined);
    await out.next(1);
  });

  it('results for tasks this Node-RED did not submit are emitted once, marked uncorrelated', async () => {
    const { results } = await setup();
    const uuid = require('crypto').randomUUID();
    assert.strictEqual((await post('/ovi/results', item(uuid))).status, 200);
    assert.strictEqual((await post('/ovi/results', item(uuid))).status, 200);
    const [r] = await results.next(1);
    assert.strictEqual(r.taskUUID, uuid);
    assert.strictEqual(r.ovi.uncorrelated, true);
    await sleep(100);
    assert.strictEqual(results.msgs.length, 1);
  });

  it('malformed JSON → 400, a form body (not JSON) → 400, a body over the limit → 413, not a Runware result → 400', async () => {
    const { results } = await setup();
    assert.strictEqual((await post('/ovi/results', null, { raw: '{"taskUUID": ' })).status, 400);
    assert.strictEqual((await post('/ovi/results', null, { raw: 'taskUUID=1', type: 'application/x-www-form-urlencoded' })).status, 400);
    assert.strictEqual((await post('/ovi/results', null, { raw: JSON.stringify({ pad: 'x'.repeat(70000) }) })).status, 413);
    assert.strictEqual((await post('/ovi/results', { hello: 'world' })).status, 400);
    assert.strictEqual((await post('/ovi/results', JSON.parse('{"__proto__":{"polluted":1},"taskUUID":5}'))).status, 400);
    assert.strictEqual({}.polluted, undefined);
    await sleep(100);
    assert.strictEqual(results.msgs.length, 0);
  });

  it('a failed generation by webhook → a Catch node gets msg.error with code and taskUUID', async () => {
    const { errors, results } = await setup();
    helper.getNode('submit').receive({ payload: 'fails [sim:fail]', topic: 'doomed' });
    const [e] = await errors.next(1);
    assert.strictEqual(e.error.code, 'provider');
    assert.strictEqual(e.error.source.id, 'hook');
    assert.strictEqual(e.topic, 'doomed');
    assert.match(e.error.cause.taskUUID, /^[0-9a-f-]{36}$/);
    assert.strictEqual(results.msgs.length, 0);
  });

  it('redeploy: the old route is gone, the new one works, no duplicate routes', async () => {
    await setup();
    const uuid = require('crypto').randomUUID();
    assert.strictEqual((await post('/ovi/results', item(uuid))).status, 200);
    await helper.setFlows(place(flow({ hook: { path: '/ovi/moved' } })), 'full', creds);
    assert.strictEqual((await post('/ovi/results', item(uuid))).status, 404, 'old route removed');
    assert.strictEqual((await post('/ovi/moved', item(uuid))).status, 200);
    const results = collector('results');
    helper.getNode('submit').receive({ payload: 'after redeploy' });
    await results.next(1);
    // redeploy with the same path: still exactly one route
    await helper.setFlows(place(flow({ hook: { path: '/ovi/moved' } })), 'full', creds);
    assert.strictEqual(routeCount('/ovi/moved'), 1, 'exactly one route after redeploying the same path');
    assert.strictEqual(routeCount('/ovi/results'), 0);
    const again = collector('results');
    await post('/ovi/moved', item(require('crypto').randomUUID(), '99999999-2222-4333-8444-555555555555'));
    await again.next(1);
    await sleep(100);
    assert.strictEqual(again.msgs.length, 1, 'one route, one emission');
  });

  it('webhook delivery lost: the poll fallback delivers, exactly once', async () => {
    sim.configure({ webhooks: false, renderMs: 50 });
    const { results } = await setup({ submit: { fallbackAfter: 0.2 } });
    helper.getNode('submit').receive({ payload: 'no webhook comes', topic: 'fallback' });
    const [r] = await results.next(1, 10000);
    assert.strictEqual(r.topic, 'fallback');
    assert.ok(sim.stats().getResponseRequests >= 1);
    await sleep(200);
    assert.strictEqual(results.msgs.length, 1);
  });

  it('webhook and fallback poll both seeing the result → still one msg', async () => {
    sim.configure({ renderMs: 300 });
    const { results } = await setup({ submit: { fallbackAfter: 0.01 } });
    helper.getNode('submit').receive({ payload: 'both paths' });
    await results.next(1);
    await sleep(1500);
    assert.strictEqual(results.msgs.length, 1);
  });

  it('works behind Node-RED\'s admin body parser (httpAdminRoot and httpNodeRoot both "/")', async () => {
    const parsed = await httpNodeServer({ adminParserFirst: true });
    try {
      await load(flow({ config: { publicUrl: parsed.url } }), creds);
      const results = collector('results');
      helper.getNode('submit').receive({ payload: 'default layout', topic: 'parsed' });
      const [r] = await results.next(1);
      assert.strictEqual(r.topic, 'parsed');
      const bad = await fetch(parsed.url + '/ovi/results?token=' + TOKEN, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{"hello":1}',
      });
      assert.strictEqual(bad.status, 400);
    } finally {
      await parsed.close();
    }
  });

  it('a public URL on localhost is refused when Runware is remote', async () => {
    await load(flow({ config: { endpoint: 'https://api.runware.ai/v1', publicUrl: 'http://localhost:1880' } }), creds);
    const errors = collector('errors');
    helper.getNode('submit').receive({ payload: 'x' });
    const [e] = await errors.next(1);
    assert.match(e.error.message, /points at this machine: Runware cannot reach it/);
  });

  it('an empty public URL is refused with a clear error', async () => {
    await load(flow({ config: { publicUrl: '' } }), creds);
    const errors = collector('errors');
    helper.getNode('submit').receive({ payload: 'x' });
    const [e] = await errors.next(1);
    assert.match(e.error.message, /no public URL/);
    assert.strictEqual(sim.stats().apiRequests, 0);
  });

  it('the token appears in no msg, log line or exported flow', async () => {
    const { results, out, errors } = await setup();
    helper.getNode('submit').receive({ payload: 'secret keeping' });
    helper.getNode('submit').receive({ payload: 'and a failure [sim:fail]' });
    await results.next(1);
    await errors.next(1);
    await post('/ovi/results', item(require('crypto').randomUUID()), { token: 'wrong' });
    const everything = JSON.stringify([results.msgs, out.msgs, errors.msgs]);
    assert.ok(!everything.includes(TOKEN), 'token in a msg');
    assert.ok(!everything.includes(KEY), 'API key in a msg');
    const logs = JSON.stringify(helper.log().args);
    assert.ok(!logs.includes(TOKEN) && !logs.includes(KEY), 'secret in a log line');
    // What Node-RED exports and saves as the flow (credentials live apart, encrypted).
    const exported = JSON.stringify(helper._redNodes.getFlows());
    assert.ok(exported.includes('ovi-webhook'), 'the export holds the flow');
    assert.ok(!exported.includes(TOKEN) && !exported.includes(KEY), 'secret in the exported flow');
  });
});
