'use strict';
// The budget holds under bursts: every job in flight or queued reserves its estimate, a job is
// admitted while spent + reserved < budget and checked again when it leaves the queue, so the total
// can pass the budget by at most one job's estimate. Results without a cost, and implausible costs.
const assert = require('assert');
const { helper, useHarness, KEY, configNode, submitNode, pollNode, load, collector, submittedTasks, httpNodeServer, sleep } = require('./helpers');

const COST = 0.0437; // the simulator's price per result

describe('budget under bursts and queues', function () {
  this.timeout(60000);
  let sim;
  useHarness((s) => (sim = s));
  beforeEach(() => {
    sim.reset();
    sim.configure({ renderMs: 150 });
  });

  async function run({ budget, maxConcurrent, msgs, costEstimate, warmUp = false }) {
    await load([
      configNode(sim, { budget, maxConcurrent, costEstimate }),
      submitNode({ wires: [['poll']] }),
      pollNode({ wires: [['results']] }),
      { id: 'results', type: 'helper' },
      { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['errors']] },
      { id: 'errors', type: 'helper' },
    ]);
    const results = collector('results');
    const errors = collector('errors');
    if (warmUp) {
      // one job first: the account learns what a result costs
      helper.getNode('submit').receive({ payload: 'warm-up' });
      await results.next(1);
    }
    const base = results.msgs.length;
    for (let i = 0; i < msgs; i++) helper.getNode('submit').receive({ payload: 'burst ' + i });
    const deadline = Date.now() + 30000;
    while (results.msgs.length - base + errors.msgs.length < msgs && Date.now() < deadline) await sleep(50);
    await sleep(300);
    const account = helper.getNode('cfg').account;
    return { results, errors, account, sent: submittedTasks(sim).length - (warmUp ? 1 : 0), base };
  }

  for (const [what, opts] of [
    ['a burst of 20, nothing known yet ($0.15 reserved per job)', { budget: 0.1, maxConcurrent: 0, msgs: 20 }],
    ['a burst of 20 after the account learned the cost', { budget: 0.3, maxConcurrent: 0, msgs: 20, warmUp: true }],
    ['a burst of 20 queued behind maxConcurrent 2, cost learned', { budget: 0.3, maxConcurrent: 2, msgs: 20, warmUp: true }],
  ]) {
    it(what + ': never more than the budget plus one job, the rest refused with quota, nothing sent for them', async () => {
      const { results, errors, account, sent, base } = await run(opts);
      const spent = account.cost.total;
      const estimate = account.budget.perResult();
      console.log(
        '      ' +
          what +
          ': sent=' +
          sent +
          ' refused=' +
          errors.msgs.length +
          ' spent=$' +
          spent +
          ' (budget $' +
          opts.budget +
          ', estimate $' +
          estimate +
          ')',
      );
      assert.ok(spent <= opts.budget + estimate + 1e-9, 'spent $' + spent);
      assert.strictEqual(sent, results.msgs.length - base, 'every job sent delivered');
      assert.strictEqual(results.msgs.length - base + errors.msgs.length, 20, 'each msg has one outcome');
      for (const e of errors.msgs) assert.strictEqual(e.error.code, 'quota');
      assert.ok(sent >= 1 && sent < 20, 'some sent, the rest refused: ' + sent);
      assert.strictEqual(account.cost.reserved, 0, 'nothing held back once all ended');
    });
  }

  it('an estimate below the real cost: queued jobs are checked again as they leave the queue, so the total still stays within budget + one estimate', async () => {
    // $0.02 reserved per job, $0.0437 spent each: five pass the check at submit; two run at once; the
    // queued ones meet the real spending when their turn comes.
    const { results, errors, account, sent } = await run({ budget: 0.1, maxConcurrent: 2, msgs: 8, costEstimate: 0.02 });
    assert.ok(
      account.budget.perResult() >= COST - 1e-12,
      'the estimate never stays below a cost seen: ' + account.budget.perResult() + ' after ' + results.msgs.length + ' results',
    );
    const spent = account.cost.total;
    console.log(
      '      estimate $0.02, real $' + COST + ': sent=' + sent + ' results=' + results.msgs.length + ' refused=' + errors.msgs.length + ' spent=$' + spent,
    );
    // With an estimate too low the bound widens to the jobs running at once (two here) at their real cost.
    assert.ok(spent <= 0.1 + 2 * COST + 1e-9, 'spent $' + spent);
    assert.ok(sent < 5, 'a job admitted at submit was refused when it left the queue: sent ' + sent);
    assert.ok(errors.msgs.some((e) => /budget of \$0\.1 .* is reached/.test(e.error.message)));
    assert.strictEqual(results.msgs.length + errors.msgs.length, 8);
  });

  it('the estimate learns the real cost: after the first result, jobs reserve $0.0437, not the $0.15 default', async () => {
    const { account } = await run({ budget: 10, maxConcurrent: 0, msgs: 1 });
    assert.strictEqual(account.budget.perResult(), COST);
  });

  it("the config's cost per video is what each job reserves", async () => {
    const { account, sent } = await run({ budget: 0.1, maxConcurrent: 0, msgs: 10, costEstimate: 0.05 });
    assert.ok(sent <= 2 + 1, 'reserving $0.05 each against $0.10: at most two at once, then as costs come in: ' + sent);
    assert.strictEqual(account.budget.perResult(), 0.05);
  });
});

describe('costs Runware reports, believed or not', function () {
  this.timeout(60000);
  let sim;
  let hooks;
  useHarness((s) => (sim = s));
  before(async () => {
    hooks = await httpNodeServer();
  });
  after(() => hooks.close());
  beforeEach(() => sim.reset());

  const TOKEN = 'budget-hook-token-0123456789abcdef';
  async function setup(config = {}) {
    await load(
      [
        configNode(sim, { publicUrl: hooks.url, ...config }),
        submitNode({ delivery: 'webhook', webhookNode: 'hook', wires: [['out']] }),
        { id: 'hook', type: 'ovi-webhook', config: 'cfg', path: '/budget/hook', wires: [['results']] },
        { id: 'out', type: 'helper' },
        { id: 'results', type: 'helper' },
        { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['errors']] },
        { id: 'errors', type: 'helper' },
      ],
      { cfg: { apiKey: KEY }, hook: { token: TOKEN } },
    );
    return { out: collector('out'), results: collector('results'), errors: collector('errors') };
  }
  const forge = (taskUUID, cost) =>
    fetch(hooks.url + '/budget/hook?token=' + TOKEN, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        data: [
          {
            taskUUID,
            status: 'success',
            videoUUID: require('crypto').randomUUID(),
            videoURL: 'https://cdn.example/a.mp4',
            ...(cost === undefined ? {} : { cost }),
          },
        ],
      }),
    });

  it('a forged cost of 1e308 is refused and logged; the total stays finite and survives a restart as a number', async () => {
    sim.configure({ webhooks: false, renderMs: 60000 });
    const { out, results } = await setup({ budget: 5 });
    helper.getNode('submit').receive({ payload: 'forged cost' });
    const [ack] = await out.next(1);
    assert.strictEqual((await forge(ack.taskUUID, 1e308)).status, 200);
    await results.next(1);
    const account = helper.getNode('cfg').account;
    assert.ok(Number.isFinite(account.cost.total) && account.cost.total < 1, 'total $' + account.cost.total);
    const warned = helper
      .log()
      .getCalls()
      .some((c) => c.args[0] && /refused the implausible cost 1e\+308/.test(String(c.args[0].msg)));
    assert.ok(warned, 'the refusal is logged');
  });

  it('with a budget, a result without a cost counts at the estimate and is warned; with "stop" set, further submits are refused', async () => {
    sim.configure({ webhooks: false, renderMs: 60000 });
    const { out, results, errors } = await setup({ budget: 5, requireCost: true });
    helper.getNode('submit').receive({ payload: 'no cost' });
    const [ack] = await out.next(1);
    await forge(ack.taskUUID, undefined);
    await results.next(1);
    const account = helper.getNode('cfg').account;
    assert.strictEqual(account.cost.total, 0.15, 'counted at the $0.15 estimate');
    helper.getNode('submit').receive({ payload: 'after' });
    const [e] = await errors.next(1);
    assert.strictEqual(e.error.code, 'quota');
    assert.match(e.error.message, /without a cost/);
    assert.strictEqual(submittedTasks(sim).length, 1, 'the second was not sent');
  });
});
