'use strict';
// Every accepted result leaves a node exactly once (README › Who emits a result): a claim by an ovi
// poll wins; otherwise the ovi webhook node that received it; when no node can emit, the submitting
// node reports an `unclaimed` error through Catch, and the result stays retrievable by taskUUID.
// Plus the deploy-time warnings about wiring that contradicts the delivery setting.
const assert = require('assert');
const { helper, useHarness, KEY, configNode, submitNode, pollNode, load, collector, httpNodeServer, sleep } = require('./helpers');

const TOKEN = 'tok-own-7c1e9a5b3d2f4e6a8b0c1d2e3f4a5b6c';

describe('who emits a result (ownership)', function () {
  let sim;
  let hooks;
  useHarness((s) => (sim = s));
  before(async () => {
    hooks = await httpNodeServer();
  });
  after(() => hooks.close());
  beforeEach(() => {
    sim.reset();
    sim.configure({ renderMs: 60, webhooks: true, webhookDuplicates: 0, webhookRetryDelaysMs: [50, 100, 200] });
  });

  const hookNode = (extra = {}) => ({ id: 'hook', type: 'ovi-webhook', config: 'cfg', path: '/own/results', wires: [['hooked']], ...extra });
  const catchAll = [
    { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['errors']] },
    { id: 'errors', type: 'helper' },
  ];
  const creds = { cfg: { apiKey: KEY }, hook: { token: TOKEN } };
  const hookUrl = () => hooks.url + '/own/results?token=' + TOKEN;

  /** Warnings logged by nodes since the flow was loaded. */
  function warnings() {
    return helper
      .log()
      .getCalls()
      .map((c) => c.args[0])
      .filter((e) => e && e.level === 30)
      .map((e) => ({ id: e.id, msg: String(e.msg) }));
  }

  it('poll-mode task whose webhookURL (msg.payload) is an ovi webhook node, no ovi poll deployed: the webhook node emits it, correlated', async () => {
    await load(
      [
        configNode(sim, { publicUrl: hooks.url }),
        submitNode({ wires: [['out']] }),
        hookNode(),
        { id: 'out', type: 'helper' },
        { id: 'hooked', type: 'helper' },
        ...catchAll,
      ],
      creds,
    );
    const hooked = collector('hooked');
    const errors = collector('errors');
    helper.getNode('submit').receive({ payload: { positivePrompt: 'porch', webhookURL: hookUrl() }, topic: 'door', user: 7 });
    const [r] = await hooked.next(1);
    assert.strictEqual(r.topic, 'door');
    assert.strictEqual(r.user, 7, 'the submitting msg properties came back through the webhook node');
    assert.match(r.payload.videoURL, /\/media\//);
    assert.strictEqual(r.ovi.uncorrelated, undefined);
    await sleep(300); // the account also polls this task: the same result must not leave twice
    assert.strictEqual(hooked.msgs.length, 1);
    assert.strictEqual(errors.msgs.length, 0, JSON.stringify(errors.msgs.map((m) => m.error)));
  });

  it('custom delivery URL pointing at an ovi webhook node: emitted by it, correlated, once', async () => {
    await load(
      [
        configNode(sim, { publicUrl: hooks.url }),
        submitNode({ delivery: 'custom', webhookURL: hookUrl(), wires: [['out']] }),
        hookNode(),
        { id: 'out', type: 'helper' },
        { id: 'hooked', type: 'helper' },
        ...catchAll,
      ],
      creds,
    );
    const hooked = collector('hooked');
    helper.getNode('submit').receive({ payload: 'custom', topic: 'c' });
    const [r] = await hooked.next(1);
    assert.strictEqual(r.topic, 'c');
    await sleep(200);
    assert.strictEqual(hooked.msgs.length, 1);
  });

  it('poll mode, nothing can emit (no ovi poll, no webhook): the submit node reports "unclaimed" through Catch, with the taskUUID', async () => {
    await load([configNode(sim), submitNode({ wires: [['out']] }), { id: 'out', type: 'helper' }, ...catchAll]);
    const errors = collector('errors');
    const out = collector('out');
    helper.getNode('submit').receive({ payload: 'nobody listens', topic: 'lonely' });
    const [ack] = await out.next(1);
    const [e] = await errors.next(1, 15000); // the account's own first poll comes after 5 s
    assert.strictEqual(e.error.code, 'unclaimed');
    assert.strictEqual(e.error.source.id, 'submit', 'reported by the submitting node');
    assert.strictEqual(e.taskUUID, ack.taskUUID);
    assert.strictEqual(e.topic, 'lonely');
    assert.match(e.error.message, /send \{taskUUID: "[0-9a-f-]{36}"\} to an ovi poll node/);
    await sleep(300);
    assert.strictEqual(errors.msgs.length, 1, 'reported once');
  });

  it('an unclaimed result stays retrievable: sending its taskUUID to an ovi poll later delivers it', async () => {
    await load([
      configNode(sim),
      submitNode({ wires: [['out']] }),
      { id: 'out', type: 'helper' },
      pollNode({ wires: [['results']] }),
      { id: 'results', type: 'helper' },
      ...catchAll,
    ]);
    const out = collector('out');
    const results = collector('results');
    helper.getNode('submit').receive({ payload: 'collect me later', topic: 'later' });
    const [ack] = await out.next(1);
    await sleep(400); // rendered and parked meanwhile
    assert.strictEqual(results.msgs.length, 0);
    helper.getNode('poll').receive({ taskUUID: ack.taskUUID, topic: 'asked' });
    const [r] = await results.next(1);
    assert.strictEqual(r.taskUUID, ack.taskUUID);
    assert.strictEqual(r.topic, 'asked', 'the asking msg carries the result');
  });

  it('webhook-mode submit wired to an ovi poll: the claim wins (results leave from the ovi poll, once), and the deploy warns', async () => {
    await load(
      [
        configNode(sim, { publicUrl: hooks.url }),
        submitNode({ delivery: 'webhook', webhookNode: 'hook', wires: [['poll']] }),
        pollNode({ wires: [['results']] }),
        hookNode(),
        { id: 'results', type: 'helper' },
        { id: 'hooked', type: 'helper' },
        ...catchAll,
      ],
      creds,
    );
    const results = collector('results');
    const hooked = collector('hooked');
    await sleep(50);
    const w = warnings().find((x) => x.id === 'submit');
    assert.ok(w && /wired to ovi poll poll/.test(w.msg) && /results leave from it/.test(w.msg), JSON.stringify(warnings()));
    helper.getNode('submit').receive({ payload: 'claimed' });
    const [r] = await results.next(1);
    assert.ok(r.payload.videoURL);
    await sleep(300);
    assert.strictEqual(results.msgs.length, 1);
    assert.strictEqual(hooked.msgs.length, 0, 'the webhook node acknowledged the delivery but did not emit it again');
  });

  it('poll-mode submit that no ovi poll can reach: warned at deploy', async () => {
    await load([configNode(sim), submitNode({ wires: [['out']] }), { id: 'out', type: 'helper' }]);
    await sleep(50);
    const w = warnings().find((x) => x.id === 'submit');
    assert.ok(w && /no ovi poll is wired after this node/.test(w.msg), JSON.stringify(warnings()));
  });

  it('the wiring check follows wires and link out → link in, stops at disabled nodes and cycles', () => {
    const { reachable } = require('../dist/nodes/lib/flow-wiring.js');
    const nodes = new Map(
      [
        { id: 's', type: 'ovi-submit', wires: [['a', 'lo']] },
        { id: 'a', type: 'function', wires: [['a']] }, // a cycle
        { id: 'lo', type: 'link out', links: ['li'], wires: [] },
        { id: 'li', type: 'link in', wires: [['p1']] },
        { id: 'p1', type: 'ovi-poll', config: 'cfg', wires: [[]] },
        { id: 's2', type: 'ovi-submit', wires: [['off']] },
        { id: 'off', type: 'function', d: true, wires: [['p1']] },
      ].map((n) => [n.id, n]),
    );
    assert.deepStrictEqual(
      reachable(nodes, 's', 'ovi-poll').map((n) => n.id),
      ['p1'],
    );
    assert.deepStrictEqual(reachable(nodes, 's2', 'ovi-poll'), [], 'a disabled node passes nothing on');
    assert.deepStrictEqual(reachable(nodes, 'nope', 'ovi-poll'), []);
  });
});
