'use strict';
// Soak: 1,000 tasks through submit → poll (a fifth through ovi webhook) against the simulator with
// every fault it can inject. Each task must end in exactly one outcome, no taskUUID may be accepted
// twice, nothing may reject unhandled, and Node-RED's admin API must keep answering throughout.
const assert = require('assert');
const { helper, startSim, configNode, submitNode, pollNode, load, httpNodeServer } = require('../helpers');
const { SEED, sleep, text, rejectionCounter, leaks, helperLogText, statusRecorder, report } = require('./support');

const TASKS = Number(process.env.SOAK_TASKS || 1000);
const WEBHOOK_SHARE = 0.2;
const API_KEY = 'rel-soak-key-Q3v9ZkT1m8Wd';
const TOKEN = 'rel-soak-token-Xr5LpN2c7Hbq';

describe('reliability: soak with faults', function () {
  this.timeout(240000);
  let sim;
  let hooks;
  before(async () => {
    sim = await startSim({
      apiKeys: [API_KEY],
      renderMs: 400,
      retryAfterSeconds: 0,
      slowMs: 1500, // above the config node's 1 s timeout
      randomSeed: SEED,
      webhookRetryDelaysMs: [100, 300, 1000],
      faults: { serverError: 0.1, rateLimit: 0.05, reset: 0.05, malformed: 0.02, slow: 0.01, failedGeneration: 0.05 },
    });
    hooks = await httpNodeServer();
    await helper.startServer();
  });
  after(async () => {
    await helper.unload();
    await helper.stopServer();
    await hooks.close();
    await sim.close();
  });

  it(TASKS + ' tasks: one outcome each, no double acceptance, no unhandled rejection, admin API up', async () => {
    await load(
      [
        configNode(sim, { publicUrl: hooks.url, timeout: 1, retries: 8, maxConcurrent: 200 }),
        submitNode({ id: 'submit', wires: [['acks', 'poll']] }),
        submitNode({ id: 'submitHook', delivery: 'webhook', webhookNode: 'hook', wires: [['acks']] }),
        pollNode({ initialDelay: 0.3, maxInterval: 0.5, timeout: 180 }),
        { id: 'hook', type: 'ovi-webhook', config: 'cfg', path: '/rel/soak', wires: [['results']] },
        { id: 'acks', type: 'helper' },
        { id: 'results', type: 'helper' },
        { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['errors']] },
        { id: 'errors', type: 'helper' },
      ],
      { cfg: { apiKey: API_KEY }, hook: { token: TOKEN } },
    );
    const rejections = rejectionCounter();
    // "Possible EventTarget memory leak detected" in a user's log for merely having jobs in flight.
    const warnings = [];
    const onWarning = (w) => {
      if (w.name === 'MaxListenersExceededWarning') warnings.push(w.name + ': ' + w.message);
    };
    process.on('warning', onWarning);
    const statuses = statusRecorder(helper, ['submit', 'submitHook', 'poll', 'hook', 'cfg']);
    const outcomes = new Map(); // n → [{kind, code, taskUUID}]
    const seen = []; // every msg that left a node, as text, for the secrets check
    const record = (kind) => (msg) => {
      seen.push(text(msg));
      if (kind === 'ack') return;
      const list = outcomes.get(msg.n) || [];
      list.push({ kind, code: msg.error && msg.error.code, taskUUID: msg.taskUUID, via: msg.via });
      outcomes.set(msg.n, list);
    };
    helper.getNode('acks').on('input', record('ack'));
    helper.getNode('results').on('input', record('result'));
    helper.getNode('errors').on('input', record('failure'));

    // The admin app must answer while the flow works (the config node's own admin route).
    const admin = { ok: 0, failed: 0, maxMs: 0 };
    let soaking = true;
    const probe = (async () => {
      while (soaking) {
        const t0 = Date.now();
        try {
          const r = await helper.request().get('/ovi/cost/cfg').timeout(10000);
          if (r.status === 200) admin.ok++;
          else admin.failed++;
        } catch {
          admin.failed++;
        }
        admin.maxMs = Math.max(admin.maxMs, Date.now() - t0);
        await sleep(250);
      }
    })();

    const started = Date.now();
    let webhookTasks = 0;
    for (let n = 0; n < TASKS; n++) {
      const viaHook = n % Math.round(1 / WEBHOOK_SHARE) === 0;
      if (viaHook) webhookTasks++;
      helper.getNode(viaHook ? 'submitHook' : 'submit').receive({ payload: 'soak task ' + n, n, via: viaHook ? 'webhook' : 'poll' });
      if (n % 50 === 49) await sleep(20); // a burst, not one synchronous loop of 1,000
    }
    const deadline = Date.now() + 200000;
    while (outcomes.size < TASKS && Date.now() < deadline) await sleep(200);
    await sleep(1500); // late duplicates would show up here
    soaking = false;
    await probe;
    rejections.stop();
    process.off('warning', onWarning);
    const duration = (Date.now() - started) / 1000;

    const stats = sim.stats();
    const client = helper.getNode('cfg').account.client.stats;
    const byCode = {};
    let results = 0;
    let failures = 0;
    const missing = [];
    const multiple = [];
    for (let n = 0; n < TASKS; n++) {
      const list = outcomes.get(n) || [];
      if (list.length === 0) missing.push(n);
      if (list.length > 1) multiple.push(n + ':' + list.map((o) => o.kind + (o.code ? '/' + o.code : '')).join(','));
      for (const o of list) {
        if (o.kind === 'result') results++;
        else {
          failures++;
          byCode[o.code] = (byCode[o.code] || 0) + 1;
        }
      }
    }
    const accepted = Object.values(stats.acceptedByUUID);
    // A job Runware accepted (and bills) but that we reported as a submit failure is a lost job.
    const acceptedSet = new Set(Object.keys(stats.acceptedByUUID));
    const lostAccepted = [...outcomes.values()].flat().filter((o) => o.kind === 'failure' && o.code !== 'provider' && acceptedSet.has(o.taskUUID));
    report('soak', {
      tasks: TASKS,
      viaWebhook: webhookTasks,
      results,
      failures,
      failuresByCode: byCode,
      simRequests: stats.apiRequests,
      clientRequests: client.requests,
      retries: client.retries,
      faultsInjected: stats.faultsInjected,
      accepted: accepted.length,
      duplicateRejections: stats.duplicateRejections,
      webhookPosts: stats.webhookAttempts,
      unhandledRejections: rejections.count,
      listenerLeakWarnings: warnings.length,
      adminProbes: admin.ok + '/' + (admin.ok + admin.failed) + ' ok, slowest ' + admin.maxMs + ' ms',
      durationS: duration.toFixed(1),
    });

    assert.deepStrictEqual(missing, [], 'tasks without any outcome');
    assert.deepStrictEqual(multiple, [], 'tasks with more than one outcome');
    assert.ok(
      accepted.every((c) => c <= 1),
      'a taskUUID accepted twice: ' + JSON.stringify(Object.entries(stats.acceptedByUUID).filter(([, c]) => c > 1)),
    );
    assert.deepStrictEqual(lostAccepted, [], 'accepted by Runware, yet reported to the flow as a submit failure');
    assert.strictEqual(rejections.count, 0, 'unhandled rejections:\n' + rejections.seen.slice(0, 3).join('\n'));
    assert.deepStrictEqual(warnings, [], 'listener-leak warnings while jobs are in flight');
    assert.strictEqual(admin.failed, 0, 'admin API probes that failed');
    assert.ok(admin.ok >= 3, 'the admin API was probed throughout');
    assert.ok(stats.faultsInjected.slow > 0 && stats.faultsInjected.reset > 0 && stats.faultsInjected.malformed > 0, 'every fault kind was drawn');

    // Secrets: no key or token in any msg, log line or status text of the soak.
    const found = leaks([API_KEY, TOKEN], { msgs: seen.join('\n'), log: helperLogText(helper), status: statuses.join('\n') });
    assert.deepStrictEqual(found, [], 'secrets leaked');
  });
});
