'use strict';
// The poll policy on a simulated clock (no timers, no wall clock): across many seeded scenarios it
// never makes more getResponse requests than Runware's TypeScript SDK would for the same render
// times, a lone task with nothing learned is found no later than the SDK finds it, and with many
// tasks in flight the results are found soon after they are ready.
const assert = require('assert');
const { AdaptivePolicy } = require('../dist/nodes/lib/poll-policy.js');
const { SdkPolicy } = require('../dist/nodes/lib/poll-baselines.js');
const { SDK_TIMING, DEFAULT_TIMING } = require('../dist/nodes/lib/poll-scheduler.js');

const MAX_BATCH = 200;

// ------------------------------------------------------------------ seeded randomness

function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(rand) {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

const RENDERS = {
  // Ovi-like: median 40 s, most between 22 and 72 s.
  lognormal: (rand) => 40000 * Math.exp(0.35 * normal(rand)),
  wide: (rand) => 5000 + rand() * 295000,
  bimodal: (rand) => (rand() < 0.5 ? 15000 : 120000) * (0.9 + 0.2 * rand()),
  fast: (rand) => 300 + rand() * 3000, // faster than any video: the SDK's first polls matter
};

// ------------------------------------------------------------------ the SDK, written out independently

/** Runware's TS SDK: sleep 1 s, poll; sleep 0.5 s; then ×1.5 up to 10 s; each sleep from the answer. */
function sdkSleep(k) {
  if (k === 1) return 1000;
  let d = 500;
  for (let i = 2; i < k; i++) d = Math.min(d * 1.5, 10000);
  return d;
}

/** The SDK's requests and detection time for one task watched at `at` (answers take `latency`). */
function sdkRun(at, ready, latency) {
  const last = Math.max(...ready);
  let sent = at + sdkSleep(1);
  for (let k = 1; ; k++) {
    if (sent >= last) return { requests: k, detectedAt: sent + latency };
    sent = sent + latency + sdkSleep(k + 1);
  }
}

// ------------------------------------------------------------------ the driver: a policy against a simulated Runware

/**
 * Runs tasks ({uuid, at, ready: [ms per result], features}) through a policy, event by event. Each
 * request is answered `latency` ms after it left; refuse(sentAt) → retryAfterMs refuses it (429). A
 * batched tick holds the next one until its answers are in, as the scheduler does; a parallel plan
 * (the SDK's one request per task) does not.
 */
function drive(policy, tasks, { timing, latency = 0, refuse = () => null, warm = [], progress = false }) {
  const queue = [...warm, ...tasks].sort((a, b) => a.at - b.at);
  const live = new Map();
  const out = { answered: 0, refused: 0, detectedAt: new Map(), watchedAt: new Map(), polledAt: new Map() };
  const answers = []; // {at, run}
  let i = 0;
  let now = queue.length > 0 ? queue[0].at : 0;
  let busy = false;
  let pausedUntil = -Infinity;
  const answer = (uuid, sentAt, at) => {
    const k = live.get(uuid);
    if (!k) return;
    out.polledAt.set(uuid, [...(out.polledAt.get(uuid) || []), sentAt]);
    const results = k.ready.filter((x) => x <= sentAt).length;
    const last = Math.max(...k.ready);
    const pct = progress && results < k.ready.length ? Math.floor((100 * (sentAt - k.at)) / (last - k.at)) : undefined;
    policy.answered(uuid, sentAt, at, { results, pending: results < k.ready.length, progress: pct });
    if (results === k.ready.length) {
      out.detectedAt.set(uuid, at);
      policy.unwatch(uuid);
      live.delete(uuid);
    }
  };
  for (let guard = 0; ; guard++) {
    if (guard > 2e6) throw new Error('runaway at ' + now);
    const nextWatch = i < queue.length ? queue[i].at : Infinity;
    const nextAnswer = answers.length > 0 ? answers[0].at : Infinity;
    const nextTick = busy ? Infinity : policy.nextAt(now);
    const t = Math.min(nextWatch, nextAnswer, nextTick);
    if (t === Infinity) break;
    now = Math.max(now, t);
    while (i < queue.length && queue[i].at <= now) {
      const k = queue[i++];
      policy.watch(k.uuid, now, { timing, features: k.features });
      out.watchedAt.set(k.uuid, now);
      live.set(k.uuid, k);
    }
    while (answers.length > 0 && answers[0].at <= now) answers.shift().run();
    if (busy || policy.nextAt(now) > now) continue;
    const plan = policy.take(now);
    assert.ok(plan, 'stalled: nextAt says now but take() gives nothing (t=' + now + ')');
    assert.ok(now >= pausedUntil, 'a request left at ' + now + ' during a pause until ' + pausedUntil);
    const sentAt = now;
    const at = now + latency;
    const sent = [];
    const failed = [];
    let retryAfter = 0;
    for (let b = 0; b < plan.batches.length; b++) {
      const batch = plan.batches[b];
      assert.ok(batch.length > 0 && batch.length <= MAX_BATCH, 'batch of ' + batch.length);
      const r = refuse(sentAt);
      if (r === null) {
        out.answered++;
        sent.push(batch);
        continue;
      }
      out.refused++;
      retryAfter = Math.max(retryAfter, r);
      if (plan.parallel) failed.push(batch);
      else {
        failed.push(...plan.batches.slice(b));
        break;
      }
    }
    busy = !plan.parallel;
    answers.push({
      at,
      run: () => {
        for (const batch of sent) for (const uuid of batch) answer(uuid, sentAt, at);
        if (failed.length > 0) {
          policy.failed(failed, at, retryAfter);
          pausedUntil = Math.max(pausedUntil, at + retryAfter);
        }
        if (!plan.parallel) busy = false;
      },
    });
    answers.sort((a, b) => a.at - b.at);
  }
  assert.strictEqual(live.size, 0, 'tasks never found: ' + [...live.keys()].slice(0, 3).join(', '));
  return out;
}

let uid = 0;
function makeTasks(rand, { n, render, arrival = 'burst', results = [1], from = 0 }) {
  const tasks = [];
  for (let j = 0; j < n; j++) {
    const numberResults = results[Math.floor(rand() * results.length)];
    const steps = [undefined, 20, 50][Math.floor(rand() * 3)];
    const hasImage = rand() < 0.3;
    const at = from + (arrival === 'burst' ? rand() * 50 : rand() * 60000);
    const base = RENDERS[render](rand) * (steps ? steps / 30 : 1) * (hasImage ? 1.1 : 1);
    const ready = Array.from({ length: numberResults }, (_, r) => at + base * (1 + 0.25 * r));
    tasks.push({ uuid: 'task-' + ++uid, at, ready, features: { numberResults, steps, hasImage } });
  }
  return tasks;
}

function sdkTotals(tasks, out, latency) {
  let requests = 0;
  const detectedAt = new Map();
  for (const k of tasks) {
    const r = sdkRun(out.watchedAt.get(k.uuid), k.ready, latency);
    requests += r.requests;
    detectedAt.set(k.uuid, r.detectedAt);
  }
  return { requests, detectedAt };
}

function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
}

const policy = () => new AdaptivePolicy({ timeScale: 1, maxBatch: MAX_BATCH });

// ------------------------------------------------------------------ the tests

describe('poll schedule (simulated clock)', function () {
  this.timeout(120000);

  it('the SDK emulation (bench baseline) polls exactly as the SDK written out here', () => {
    const rand = prng(7);
    for (const latency of [0, 40]) {
      const tasks = makeTasks(rand, { n: 30, render: 'lognormal', arrival: 'stream' });
      const out = drive(new SdkPolicy({ timeScale: 1, maxBatch: MAX_BATCH }), tasks, { timing: SDK_TIMING, latency });
      const sdk = sdkTotals(tasks, out, latency);
      assert.strictEqual(out.answered, sdk.requests);
      for (const k of tasks) assert.strictEqual(out.detectedAt.get(k.uuid), sdk.detectedAt.get(k.uuid));
    }
  });

  it('a lone task with nothing learned is polled exactly when the SDK would poll it', () => {
    const rand = prng(11);
    for (let s = 0; s < 200; s++) {
      const render = ['lognormal', 'wide', 'bimodal', 'fast'][s % 4];
      const latency = [0, 15, 120][s % 3];
      const tasks = makeTasks(rand, { n: 1, render, results: [1, 2, 4] });
      const out = drive(policy(), tasks, { timing: SDK_TIMING, latency });
      const sdk = sdkTotals(tasks, out, latency);
      const k = tasks[0];
      assert.ok(out.detectedAt.get(k.uuid) <= sdk.detectedAt.get(k.uuid), 'later than the SDK: ' + JSON.stringify({ s, render, latency }));
      assert.strictEqual(out.answered, sdk.requests, 'requests: ' + JSON.stringify({ s, render, latency }));
    }
  });

  it("with First check after set to 5 s (0.1.0's default), a lone task ready later is found no later than by the SDK, with fewer requests", () => {
    const FIVE_S = { initialDelayMs: 5000, intervalMs: 2000, maxIntervalMs: 10000 };
    const rand = prng(13);
    for (let s = 0; s < 300; s++) {
      const render = ['lognormal', 'wide', 'bimodal'][s % 3];
      const latency = [0, 15, 120][Math.floor(s / 3) % 3];
      const tasks = makeTasks(rand, { n: 1, render, results: [1, 2] });
      const out = drive(policy(), tasks, { timing: FIVE_S, latency });
      const sdk = sdkTotals(tasks, out, latency);
      const at = JSON.stringify({ s, render, latency, ours: out.answered, sdk: sdk.requests });
      assert.ok(out.detectedAt.get(tasks[0].uuid) <= sdk.detectedAt.get(tasks[0].uuid), 'later than the SDK: ' + at);
      assert.ok(out.answered < sdk.requests, 'requests: ' + at);
    }
  });

  it('never makes more requests than the SDK would for the same render times (seeded scenarios)', () => {
    let scenarios = 0;
    const worst = { ratio: 0 };
    for (let seed = 1; seed <= 96; seed++) {
      const rand = prng(seed);
      const n = [1, 20, 200, 450][seed % 4]; // 450: more than one batch per tick
      const render = ['lognormal', 'wide', 'bimodal', 'fast'][Math.floor(seed / 4) % 4];
      const arrival = seed % 3 === 0 ? 'stream' : 'burst';
      const latency = [0, 25, 250][seed % 3];
      const timing = seed % 2 ? SDK_TIMING : DEFAULT_TIMING;
      const refuseRate = [0, 0, 0.05, 0.25][Math.floor(seed / 16) % 4];
      const refuse = refuseRate ? () => (rand() < refuseRate ? Math.floor(rand() * 5000) : null) : undefined;
      // Half the scenarios start with a learned model (a batch rendered before), half with nothing.
      const warm = seed % 5 < 2 ? [] : makeTasks(rand, { n: Math.min(n, 40), render, arrival: 'burst', from: -400000 });
      const tasks = makeTasks(rand, { n, render, arrival, results: seed % 7 === 0 ? [1, 2, 4] : [1] });
      const out = drive(policy(), tasks, { timing, latency, refuse, warm, progress: seed % 6 < 3 });
      const all = [...warm, ...tasks];
      const sdk = sdkTotals(all, out, latency);
      const at = JSON.stringify({ seed, n, render, arrival, latency, refuseRate, warm: warm.length, ours: out.answered, sdk: sdk.requests });
      assert.ok(out.answered <= sdk.requests, 'more requests than the SDK: ' + at);
      worst.ratio = Math.max(worst.ratio, out.answered / sdk.requests);
      // A refused request pauses the account: at most one per tick, never one per task.
      assert.ok(out.refused <= out.answered + 1 || refuseRate > 0.2, 'refusals: ' + at);
      scenarios++;
    }
    assert.strictEqual(scenarios, 96);
    assert.ok(worst.ratio <= 1);
  });

  it('no request during a Retry-After pause, and every task is still found', () => {
    const rand = prng(99);
    for (let s = 0; s < 12; s++) {
      const tasks = makeTasks(rand, { n: [1, 20, 200][s % 3], render: 'lognormal', arrival: s % 2 ? 'stream' : 'burst' });
      // drive() asserts that nothing leaves before the pause ends and that every task is found.
      const out = drive(policy(), tasks, { timing: SDK_TIMING, latency: 20, refuse: () => (rand() < 0.3 ? 2000 + rand() * 8000 : null) });
      assert.ok(out.refused > 0);
      assert.ok(out.answered <= sdkTotals(tasks, out, 20).requests);
    }
  });

  it("Longest interval caps the wait between two checks of a task; above the SDK's 10 s it saves requests", () => {
    const rand = prng(31);
    for (const n of [1, 20]) {
      const tasks = makeTasks(rand, { n, render: 'wide', arrival: 'stream' });
      const tight = drive(policy(), tasks, { timing: { initialDelayMs: 1000, intervalMs: 500, maxIntervalMs: 2000 }, latency: 10 });
      for (const times of tight.polledAt.values())
        for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] <= 2000 + 1000 + 10, 'gap ' + (times[i] - times[i - 1]));
      const loose = drive(policy(), tasks, { timing: { initialDelayMs: 1000, intervalMs: 500, maxIntervalMs: 30000 }, latency: 10 });
      const sdk = sdkTotals(tasks, loose, 10).requests;
      assert.ok(loose.answered < sdk, n + ' tasks: ' + loose.answered + ' requests vs the SDK ' + sdk);
    }
  });

  it('with progress reported, 20 in flight with nothing learned are found soon after they are ready', () => {
    const rand = prng(77);
    const delays = { with: [], without: [] };
    for (let round = 0; round < 5; round++) {
      const tasks = makeTasks(rand, { n: 20, render: 'lognormal', results: [1] });
      for (const [key, progress] of [
        ['with', true],
        ['without', false],
      ]) {
        const out = drive(policy(), tasks, { timing: SDK_TIMING, latency: 20, progress });
        assert.ok(out.answered <= sdkTotals(tasks, out, 20).requests);
        for (const k of tasks) delays[key].push(out.detectedAt.get(k.uuid) - Math.max(...k.ready));
      }
    }
    assert.ok(quantile(delays.with, 0.95) <= 1500, 'p95 with progress ' + quantile(delays.with, 0.95));
    assert.ok(quantile(delays.with, 0.5) < quantile(delays.without, 0.5));
  });

  for (const n of [20, 200]) {
    it('with ' + n + ' in flight after a batch learned, p95 of ready → found ≤ 1.5 s at fewer requests than the SDK', () => {
      const rand = prng(1000 + n);
      const delays = [];
      let ours = 0;
      let sdkReq = 0;
      for (let round = 0; round < 5; round++) {
        const p = policy();
        const warm = makeTasks(rand, { n, render: 'lognormal', from: -300000 });
        const tasks = makeTasks(rand, { n, render: 'lognormal' });
        const out = drive(p, tasks, { timing: DEFAULT_TIMING, latency: 20, warm });
        const sdk = sdkTotals([...warm, ...tasks], out, 20);
        ours += out.answered;
        sdkReq += sdk.requests;
        for (const k of tasks) delays.push(out.detectedAt.get(k.uuid) - Math.max(...k.ready));
      }
      const p95 = quantile(delays, 0.95);
      assert.ok(p95 <= 1500, 'p95 ' + p95 + ' ms');
      assert.ok(ours <= sdkReq, ours + ' requests vs the SDK ' + sdkReq);
    });
  }
});
