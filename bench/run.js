#!/usr/bin/env node
'use strict';
/**
 * npm run bench: our overhead against a raw client, our API economy against a hand-built flow.
 *
 * This process hosts a real Node-RED (embedded, lib/node-red.js) and the raw axios baseline; the
 * Runware simulator runs in a child process at zero latency, so its CPU never counts; the webhook
 * load generator is another child process. Every row compares two things measured in the same
 * run, alternating, repeated (median of the rounds). Writes results.json and results.md.
 *
 *   node bench/run.js [--smoke] [--rounds N] [--only cpu,ticks,calls,schedule,webhook,inflight,ingest,footprint]
 *                     [--out DIR] [--profile DIR] [--policy adaptive|sdk|fixed]
 *
 * --smoke    tiny sizes, one round; results go to a temp dir unless --out is given
 *            (test/bench-smoke.test.js checks only that the rows are well formed).
 * --policy   the poll schedule of "ours" in the CPU, ticks, calls and in-flight rows (default: the
 *            package's own, adaptive); to compare, e.g. --policy fixed for 0.1.0's schedule.
 * --profile  write V8 CPU profiles (.cpuprofile, open in Chrome DevTools) of our side of each
 *            phase to DIR; the numbers of a profiled run are not comparable (the profiler costs).
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const v8 = require('v8');
const vm = require('vm');
const inspector = require('inspector');
const { execFile } = require('child_process');
const { monitorEventLoopDelay, performance } = require('perf_hooks');

const { startNodeRed, snapshotPackage, ROOT } = require('./lib/node-red');
const { startSimChild } = require('./lib/sim');
const { startHog } = require('./lib/hog');
const { runSchedules, scheduleRows, scheduleTable, quantile, prng } = require('./lib/schedule');
const { webhookDelay } = require('./lib/webhook-delay');
const { footprint } = require('./lib/footprint');
const { createRawClient } = require('./lib/raw-client');
const flows = require('./lib/flows');

// ------------------------------------------------------------------ options

function parseArgs(argv) {
  const a = { smoke: false, rounds: null, only: null, out: null, profile: null, policy: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--smoke') a.smoke = true;
    else if (arg === '--rounds') a.rounds = Number(argv[++i]);
    else if (arg === '--only') a.only = new Set(argv[++i].split(','));
    else if (arg === '--out') a.out = path.resolve(argv[++i]);
    else if (arg === '--profile') a.profile = path.resolve(argv[++i]);
    else if (arg === '--policy') a.policy = argv[++i];
    else if (arg === '--help' || arg === '-h') {
      console.log(
        'usage: node bench/run.js [--smoke] [--rounds N] [--only cpu,ticks,calls,schedule,webhook,inflight,ingest,footprint] [--out DIR] [--profile DIR]',
      );
      process.exit(0);
    } else throw new Error('unknown argument ' + arg);
  }
  if (a.rounds !== null && !(Number.isInteger(a.rounds) && a.rounds >= 1 && a.rounds <= 20)) throw new Error('--rounds must be 1..20');
  if (a.policy !== null && !['adaptive', 'sdk', 'fixed'].includes(a.policy)) throw new Error('--policy must be adaptive, sdk or fixed');
  return a;
}

const args = parseArgs(process.argv.slice(2));
const SIZES = args.smoke
  ? {
      rounds: 1,
      cpuTasks: 20,
      cpuRounds: 1,
      warmTasks: 10,
      warmRounds: 1,
      handRounds: 1,
      tickInflight: 20,
      tickWindowMs: 600,
      webhookTasks: 20,
      inflight: 200,
      inflightRounds: 1,
      steadyMs: 1200,
      ingestRounds: 1,
      ingestWarmRounds: 1,
      ingestWarmMs: 100,
      ingestMs: 300,
      ingestMax: 300,
      ingestConc: 8,
      hogRounds: 1,
      scheduleScale: 0.02,
      aloneSlots: 3,
      aloneRounds: 1,
      twenty: 4,
      twoHundred: 8,
      inFlightRounds: { twenty: 1, twoHundred: 1 },
      webhookDelayN: 20,
      webhookGapMs: 2,
      footprintRounds: 1,
      footprintSettleMs: 300,
      budgetMs: 200000,
    }
  : {
      rounds: 3,
      cpuTasks: 500,
      cpuRounds: 5,
      warmTasks: 500,
      warmRounds: 8,
      handRounds: 3,
      tickInflight: 100,
      tickWindowMs: 2000,
      webhookTasks: 300,
      inflight: 10000,
      inflightRounds: 3,
      steadyMs: 5000,
      ingestRounds: 5,
      ingestWarmRounds: 2,
      ingestWarmMs: 300,
      ingestMs: 1500,
      ingestMax: 200000,
      ingestConc: 32,
      hogRounds: 3,
      // Poll schedules: time ×0.1, so a 40 s render takes 4 s; 1 task alone in 20 fresh accounts per
      // schedule (2 rounds), 20 in flight (3 rounds) and 200 (1 round) after a warm-up batch each.
      scheduleScale: 0.1,
      aloneSlots: 20,
      aloneRounds: 2,
      twenty: 20,
      twoHundred: 200,
      inFlightRounds: { twenty: 3, twoHundred: 1 },
      webhookDelayN: 300,
      webhookGapMs: 5,
      footprintRounds: 15, // a spawned start varies by ±80 ms: the median of many pairs
      footprintSettleMs: 2000,
      budgetMs: 720000,
    };
if (args.rounds) SIZES.rounds = SIZES.cpuRounds = SIZES.inflightRounds = SIZES.hogRounds = SIZES.ingestRounds = args.rounds;
const OUT = args.out || (args.smoke ? fs.mkdtempSync(path.join(os.tmpdir(), 'ovi-bench-smoke-')) : __dirname);
const want = (phase) => !args.only || args.only.has(phase);

// Poll timing of the CPU and calls rows: the defaults (5 s, 2 s ×1.5 up to 10 s) scaled down.
const RENDER_MS = 250;
const POLL = { initialDelayMs: 200, intervalMs: 200, maxIntervalMs: 200 };
const TICK_INTERVAL_MS = 200;
const PROMPT = 'A lighthouse keeper looks at the sea and says <S>The storm is coming tonight.<E> <AUDCAP>waves, wind, a gull<ENDAUDCAP>';

// ------------------------------------------------------------------ helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x, d = 3) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x);
const cpuMs = (u) => (u.user + u.system) / 1000;
const diff = (a, b, k) => b[k] - a[k];

let gcFn = null;
function gc() {
  if (!gcFn) {
    if (typeof global.gc === 'function') gcFn = global.gc;
    else {
      v8.setFlagsFromString('--expose_gc');
      gcFn = vm.runInNewContext('gc');
    }
  }
  gcFn();
}
/** heapUsed after full GCs. Only for the heap row: gc() makes V8 drop compiled code, so no CPU row may follow it directly. */
async function settledHeap() {
  for (let i = 0; i < 4; i++) {
    gc();
    await sleep(30);
  }
  return process.memoryUsage().heapUsed;
}

async function waitFor(pred, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('timed out (' + timeoutMs + ' ms) waiting for ' + what());
    await sleep(5);
  }
}

/** Counts msgs reaching a node (an extra input listener: the node's own handler still runs). */
function counter(node, onMsg) {
  const c = { n: 0 };
  node.on('input', (msg) => {
    c.n++;
    if (onMsg) onMsg(msg);
  });
  return c;
}

function log(line) {
  process.stdout.write('[bench] ' + line + '\n');
}

/** Optional V8 CPU profiles of chosen windows (--profile DIR). */
function profiler(dir) {
  if (!dir) return { start: async () => {}, stop: async () => {} };
  fs.mkdirSync(dir, { recursive: true });
  const session = new inspector.Session();
  session.connect();
  const post = (m, p = {}) => new Promise((res, rej) => session.post(m, p, (e, r) => (e ? rej(e) : res(r))));
  let enabled = false;
  return {
    async start() {
      if (!enabled) await post('Profiler.enable');
      enabled = true;
      await post('Profiler.start');
    },
    async stop(name) {
      const { profile } = await post('Profiler.stop');
      fs.writeFileSync(path.join(dir, name + '.cpuprofile'), JSON.stringify(profile));
    },
  };
}

// ------------------------------------------------------------------ the bench

async function main() {
  const started = Date.now();
  const watchdog = setTimeout(() => {
    console.error('[bench] exceeded its time budget of ' + SIZES.budgetMs / 1000 + ' s: aborting');
    process.exit(2);
  }, SIZES.budgetMs);
  watchdog.unref();

  const pkgDir = await snapshotPackage();
  let sim = null;
  let nr = null;
  try {
    sim = await startSimChild(
      { apiKeys: [flows.API_KEY], renderMs: RENDER_MS, requestLogLimit: 200, faults: { latencyMs: 0 }, webhookRetryDelaysMs: [250, 1000] },
      pkgDir,
    );
    nr = await startNodeRed(pkgDir);
  } catch (e) {
    if (sim) await sim.close().catch(() => {});
    fs.rmSync(pkgDir, { recursive: true, force: true });
    throw e;
  }
  process.env.RUNWARE_ENDPOINT = sim.url; // for the hand-built flow's function nodes
  process.env.RUNWARE_API_KEY = flows.API_KEY;
  const raw = createRawClient({ url: sim.url, apiKey: flows.API_KEY });
  const prof = profiler(args.profile);
  const rows = [];
  const details = {};
  let seq = 0;
  const uid = () => 'r' + ++seq;
  /** Deploy one of our poll flows, with the schedule chosen by --policy. */
  async function deployOursPoll(p, settings) {
    await nr.deploy(flows.oursPoll(p, sim.url, settings));
    if (args.policy) nr.getNode(p + '.cfg').account.scheduler.usePolicy(args.policy);
  }

  try {
    // -------------------------------------------------------------- sides of the CPU row
    async function oursPoll(n, profileAs) {
      const p = uid();
      await sim.reset();
      await deployOursPoll(p, { initialDelayS: POLL.initialDelayMs / 1000, maxIntervalS: POLL.maxIntervalMs / 1000 });
      const submit = nr.getNode(p + '.submit');
      const ok = counter(nr.getNode(p + '.sink'));
      const bad = counter(nr.getNode(p + '.errors'));
      await sleep(50);
      const s0 = await sim.stats();
      if (profileAs) await prof.start();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < n; i++) submit.receive({ payload: PROMPT, topic: 'bench', seq: i });
      await waitFor(
        () => ok.n + bad.n >= n,
        120000,
        () => 'ours: ' + (ok.n + bad.n) + '/' + n + ' results',
      );
      const cpu = cpuMs(process.cpuUsage(c0));
      const wallMs = performance.now() - t0;
      if (profileAs) await prof.stop(profileAs);
      const s1 = await sim.stats();
      await nr.clear();
      return {
        cpuMs: cpu,
        wallMs,
        completed: ok.n,
        failed: bad.n,
        apiRequests: diff(s0, s1, 'apiRequests'),
        getResponseRequests: diff(s0, s1, 'getResponseRequests'),
        getResponseTasks: diff(s0, s1, 'getResponseTasks'),
      };
    }

    let template = null;
    async function rawPoll(n) {
      await sim.reset();
      await sleep(50);
      const s0 = await sim.stats();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const r = await raw.run({ template, n, timing: POLL });
      const cpu = cpuMs(process.cpuUsage(c0));
      const wallMs = performance.now() - t0;
      const s1 = await sim.stats();
      return {
        cpuMs: cpu,
        wallMs,
        completed: r.completed,
        failed: r.failed,
        apiRequests: diff(s0, s1, 'apiRequests'),
        getResponseRequests: diff(s0, s1, 'getResponseRequests'),
        getResponseTasks: diff(s0, s1, 'getResponseTasks'),
      };
    }

    async function handPoll(n) {
      await sim.reset();
      await nr.deploy(flows.handBuilt(POLL.intervalMs));
      const build = nr.getNode('hb.build');
      const ok = counter(nr.getNode('hb.result'));
      const bad = counter(nr.getNode('hb.failed'));
      await sleep(50);
      const s0 = await sim.stats();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < n; i++) build.receive({ payload: PROMPT, topic: 'bench', seq: i });
      await waitFor(
        () => ok.n + bad.n >= n,
        120000,
        () => 'hand-built: ' + (ok.n + bad.n) + '/' + n + ' results',
      );
      const cpu = cpuMs(process.cpuUsage(c0));
      const wallMs = performance.now() - t0;
      const s1 = await sim.stats();
      await nr.clear();
      return {
        cpuMs: cpu,
        wallMs,
        completed: ok.n,
        failed: bad.n,
        apiRequests: diff(s0, s1, 'apiRequests'),
        getResponseRequests: diff(s0, s1, 'getResponseRequests'),
        getResponseTasks: diff(s0, s1, 'getResponseTasks'),
      };
    }

    const oursPollRuns = [];
    const handPollRuns = [];
    if (want('cpu') || want('calls')) {
      log(
        'CPU per task: ' +
          SIZES.cpuTasks +
          ' tasks per side, ' +
          SIZES.warmRounds +
          ' warm-up and ' +
          SIZES.cpuRounds +
          ' measured round(s), render ' +
          RENDER_MS +
          ' ms, poll every ' +
          POLL.intervalMs +
          ' ms',
      );
      await sim.configure({ renderMs: RENDER_MS });
      // Warm-up (not counted): JIT, sockets, and the task body the raw client will send. Both
      // sides take a few thousand tasks to reach steady code (zod, axios, Node-RED routing):
      // measured cold, the ratio is mostly about who was compiled first. No forced GC here: a
      // gc() call makes V8 drop compiled code and doubles the next run's CPU on both sides.
      await oursPoll(SIZES.warmTasks);
      const sent = JSON.parse(await sim.lastSubmit());
      template = sent[0];
      delete template.taskUUID;
      for (let w = 0; w < SIZES.warmRounds; w++) {
        await rawPoll(SIZES.warmTasks);
        await oursPoll(SIZES.warmTasks);
      }
      // Measured: raw and ours alternate (ABBA), so drift and GC debt fall on both sides alike.
      const rawRuns = [];
      for (let r = 0; r < SIZES.cpuRounds; r++) {
        const order = r % 2 === 0 ? ['raw', 'ours'] : ['ours', 'raw'];
        for (const side of order) {
          if (side === 'raw') rawRuns.push(await rawPoll(SIZES.cpuTasks));
          else oursPollRuns.push(await oursPoll(SIZES.cpuTasks, args.profile ? 'cpu-ours-' + (r + 1) : null));
        }
        log('  round ' + (r + 1) + ': raw ' + round(rawRuns[r].cpuMs / SIZES.cpuTasks) + ' ms/task, ours ' + round(oursPollRuns[r].cpuMs / SIZES.cpuTasks));
      }
      // The hand-built flow last, in a block of its own: it leaves much garbage behind, whose
      // collection would otherwise be charged to whichever side ran next.
      for (let w = 0; w < Math.min(2, SIZES.warmRounds); w++) await handPoll(SIZES.warmTasks);
      for (let r = 0; r < SIZES.handRounds; r++) {
        handPollRuns.push(await handPoll(SIZES.cpuTasks));
        log('  hand-built round ' + (r + 1) + ': ' + round(handPollRuns[r].cpuMs / SIZES.cpuTasks) + ' ms/task');
      }
      const per = (runs) => runs.map((x) => x.cpuMs / x.completed);
      const ratios = oursPollRuns.map((o, i) => per([o])[0] / per([rawRuns[i]])[0]);
      const failed = [...rawRuns, ...oursPollRuns, ...handPollRuns].reduce((s, x) => s + x.failed, 0);
      details.cpu = { tasks: SIZES.cpuTasks, renderMs: RENDER_MS, poll: POLL, template, raw: rawRuns, ours: oursPollRuns, handBuilt: handPollRuns };
      if (want('cpu')) {
        rows.push({
          id: 'cpu-per-task',
          metric: 'CPU time per task, submit → poll → result (Node-RED process)',
          unit: 'ms/task',
          ours: round(median(per(oursPollRuns))),
          baseline: round(median(per(rawRuns))),
          baselineLabel: 'raw axios script doing the same HTTP work (1 submit per task, getResponse batched like ours)',
          ratio: round(median(ratios)),
          ratioRounds: ratios.map((x) => round(x)),
          goal: { op: '<=', value: 1.15 },
          valid: failed === 0,
          notes:
            SIZES.cpuTasks +
            ' tasks submitted at once per side, after ' +
            SIZES.warmRounds +
            ' warm-up rounds; HTTP requests per round (median): ours ' +
            median(oursPollRuns.map((x) => x.apiRequests)) +
            ', raw ' +
            median(rawRuns.map((x) => x.apiRequests)) +
            '; wall ms: ours ' +
            round(median(oursPollRuns.map((x) => x.wallMs)), 0) +
            ', raw ' +
            round(median(rawRuns.map((x) => x.wallMs)), 0) +
            (failed ? '; FAILED TASKS: ' + failed : ''),
        });
        const hratios = handPollRuns.map((h) => median(per(oursPollRuns)) / per([h])[0]);
        rows.push({
          id: 'cpu-per-task-vs-hand-built',
          metric: 'CPU time per task vs the hand-built core-node flow (information)',
          unit: 'ms/task',
          ours: round(median(per(oursPollRuns))),
          baseline: round(median(per(handPollRuns))),
          baselineLabel: 'hand-built flow (bench/hand-built-flow.json), same Node-RED, same timing',
          ratio: round(median(hratios)),
          ratioRounds: hratios.map((x) => round(x)),
          goal: null,
          valid: failed === 0,
          notes:
            'hand-built HTTP requests per round (median): ' +
            median(handPollRuns.map((x) => x.apiRequests)) +
            ' (measured in its own block after the raw/ours rounds)',
        });
      }
    }

    // -------------------------------------------------------------- getResponse requests per tick
    if (want('ticks')) {
      const inflight = SIZES.tickInflight;
      log(
        'getResponse requests per poll tick: ' +
          inflight +
          ' tasks in flight, poll every ' +
          TICK_INTERVAL_MS +
          ' ms, window ' +
          SIZES.tickWindowMs +
          ' ms, ' +
          SIZES.rounds +
          ' round(s)',
      );
      async function ticks(kind) {
        await sim.configure({ renderMs: 3600000 }); // nothing finishes: exactly `inflight` tasks in flight
        await sim.reset();
        const seen = new Set();
        let feed;
        let cfgId = null;
        if (kind === 'ours') {
          const p = uid();
          cfgId = p + '.cfg';
          await deployOursPoll(p, { initialDelayS: TICK_INTERVAL_MS / 1000, maxIntervalS: TICK_INTERVAL_MS / 1000 });
          counter(nr.getNode(p + '.poll'), (m) => seen.add(m.taskUUID));
          feed = nr.getNode(p + '.submit');
        } else {
          await nr.deploy(flows.handBuilt(TICK_INTERVAL_MS));
          counter(nr.getNode('hb.wait'), (m) => seen.add(m.taskUUID));
          feed = nr.getNode('hb.build');
        }
        for (let i = 0; i < inflight; i++) feed.receive({ payload: PROMPT, seq: i });
        await waitFor(
          () => seen.size >= inflight,
          60000,
          () => kind + ': ' + seen.size + '/' + inflight + ' acknowledged',
        );
        await sleep(3 * TICK_INTERVAL_MS);
        const cfg = cfgId ? nr.getNode(cfgId) : null;
        const sched = cfg && cfg.account && cfg.account.scheduler ? cfg.account.scheduler.stats : null; // internal, for the notes only
        const k0 = sched ? sched.ticks : 0;
        const s0 = await sim.stats();
        await sleep(SIZES.tickWindowMs);
        const s1 = await sim.stats();
        const k1 = sched ? sched.ticks : 0;
        await nr.clear();
        const reqs = diff(s0, s1, 'getResponseRequests');
        const polled = diff(s0, s1, 'getResponseTasks');
        // Each tick polls every task in flight once, so ticks = task-polls / tasks in flight.
        const perTick = polled > 0 ? (reqs * inflight) / polled : NaN;
        return { getResponseRequests: reqs, getResponseTasks: polled, ticks: round(polled / inflight, 2), schedulerTicks: sched ? k1 - k0 : null, perTick };
      }
      const o = [];
      const h = [];
      for (let r = 0; r < SIZES.rounds; r++) {
        for (const kind of r % 2 === 0 ? ['ours', 'hand'] : ['hand', 'ours']) (kind === 'ours' ? o : h).push(await ticks(kind));
      }
      details.ticks = { inflight, intervalMs: TICK_INTERVAL_MS, windowMs: SIZES.tickWindowMs, ours: o, handBuilt: h };
      const ours = median(o.map((x) => x.perTick));
      const hand = median(h.map((x) => x.perTick));
      rows.push({
        id: 'getresponse-per-tick',
        metric: 'getResponse HTTP requests per poll tick, ' + inflight + ' tasks in flight',
        unit: 'requests/tick',
        ours: round(ours, 2),
        baseline: round(hand, 2),
        baselineLabel: 'hand-built flow (http request + function + delay loop, bench/hand-built-flow.json)',
        ratio: round(ours / hand, 4),
        ratioRounds: o.map((x, i) => round(x.perTick / h[i].perTick, 4)),
        goal: { op: '<=', value: 1, on: 'ours' },
        valid: o.every((x) => x.getResponseTasks > 0) && h.every((x) => x.getResponseTasks > 0),
        notes:
          'ticks = getResponse task-polls / tasks in flight (window ' +
          SIZES.tickWindowMs +
          ' ms, poll every ' +
          TICK_INTERVAL_MS +
          ' ms); ours per its own scheduler: ' +
          o.map((x) => x.getResponseRequests + ' requests in ' + x.schedulerTicks + ' ticks').join(', '),
      });
    }

    // -------------------------------------------------------------- HTTP calls per completed task
    if (want('calls')) {
      const n = SIZES.webhookTasks;
      log('HTTP calls to Runware per completed task, webhook mode: ' + n + ' tasks, ' + SIZES.rounds + ' round(s)');
      await sim.configure({ renderMs: RENDER_MS, webhooks: true });
      const runs = [];
      for (let r = 0; r < SIZES.rounds; r++) {
        const p = uid();
        await sim.reset();
        await nr.deploy(flows.oursWebhook(p, sim.url, nr.url, '/bench/hook-' + p));
        const submit = nr.getNode(p + '.submit');
        const ok = counter(nr.getNode(p + '.sink'));
        const bad = counter(nr.getNode(p + '.errors'));
        const s0 = await sim.stats();
        for (let i = 0; i < n; i++) submit.receive({ payload: PROMPT, topic: 'bench', seq: i });
        await waitFor(
          () => ok.n + bad.n >= n,
          60000,
          () => 'webhook mode: ' + (ok.n + bad.n) + '/' + n + ' results',
        );
        await sleep(100);
        const s1 = await sim.stats();
        await nr.clear();
        runs.push({
          completed: ok.n,
          failed: bad.n,
          apiRequests: diff(s0, s1, 'apiRequests'),
          getResponseRequests: diff(s0, s1, 'getResponseRequests'),
          webhookAttempts: diff(s0, s1, 'webhookAttempts'),
          webhookDelivered: diff(s0, s1, 'webhookDelivered'),
        });
      }
      details.webhookMode = { tasks: n, renderMs: RENDER_MS, runs };
      const perTask = runs.map((x) => x.apiRequests / Math.max(1, x.completed));
      const failed = runs.reduce((s, x) => s + x.failed, 0);
      rows.push({
        id: 'calls-per-task-webhook',
        metric: 'HTTP calls to Runware per completed task, webhook mode',
        unit: 'calls/task',
        ours: round(median(perTask)),
        baseline: 1,
        baselineLabel: 'the minimum: one submit per task',
        ratio: round(median(perTask) / 1),
        ratioRounds: perTask.map((x) => round(x)),
        goal: { op: '<=', value: 1.2 },
        valid: failed === 0,
        notes:
          'getResponse requests: ' +
          runs.map((x) => x.getResponseRequests).join('/') +
          '; webhook POSTs received per task: ' +
          round(median(runs.map((x) => x.webhookDelivered / Math.max(1, x.completed)))) +
          (failed ? '; FAILED TASKS: ' + failed : ''),
      });
      if (oursPollRuns.length && handPollRuns.length) {
        const o = oursPollRuns.map((x) => x.apiRequests / x.completed);
        const h = handPollRuns.map((x) => x.apiRequests / x.completed);
        const pairs = Math.min(o.length, h.length);
        rows.push({
          id: 'calls-per-task-poll',
          metric:
            'HTTP calls to Runware per completed task, poll mode (' +
            SIZES.cpuTasks +
            ' tasks at once, render ' +
            RENDER_MS +
            ' ms, poll every ' +
            POLL.intervalMs +
            ' ms)',
          unit: 'calls/task',
          ours: round(median(o)),
          baseline: round(median(h)),
          baselineLabel: 'hand-built flow, same timing',
          ratio: round(median(o) / median(h)),
          ratioRounds: o.slice(0, pairs).map((x, i) => round(x / h[i])),
          goal: null,
          valid: true,
          notes: 'from the CPU rounds; ours: 1 submit + batched getResponse (≤200 tasks per request); hand-built: 1 submit + 1 getResponse per task per poll',
        });
      }
    }

    // -------------------------------------------------------------- poll schedules and webhook delay
    const ctx = { nr, sim, uid, waitFor, log, prompt: PROMPT, scale: SIZES.scheduleScale, rand: prng(20261125), timeoutMs: 120000 };
    if (want('schedule')) {
      log(
        'poll schedules side by side (ours, Runware SDK, before): 1 task alone ×' +
          SIZES.aloneSlots +
          ' accounts, ' +
          SIZES.twenty +
          ' and ' +
          SIZES.twoHundred +
          ' in flight; time scaled ×' +
          SIZES.scheduleScale,
      );
      await sim.reset();
      await sim.configure({ webhooks: false });
      details.schedule = await runSchedules(ctx, SIZES);
      await sim.configure({ webhooks: true });
      rows.push(...scheduleRows(details.schedule));
    }
    if (want('webhook')) {
      log('webhook path delay: ' + SIZES.webhookDelayN + ' correlated results posted ' + SIZES.webhookGapMs + ' ms apart');
      await sim.reset();
      const w = await webhookDelay(ctx, { n: SIZES.webhookDelayN, gapMs: SIZES.webhookGapMs });
      const q = (x) => round(quantile(w.delaysMs, x), 2);
      details.webhookDelay = { ...w, p50s: round(q(0.5) / 1000, 3), p95s: round(q(0.95) / 1000, 3), maxS: round(Math.max(...w.delaysMs) / 1000, 3) };
      rows.push({
        id: 'webhook-delay-p99',
        metric: 'Webhook mode: result POST in → msg out of ovi webhook, p99',
        unit: 'ms',
        ours: q(0.99),
        baseline: null,
        baselineLabel: 'none (the path itself)',
        ratio: null,
        ratioRounds: [q(0.99)],
        goal: { op: '<=', value: 50, on: 'ours' },
        valid: w.emitted === w.posted && w.errors === 0 && (w.statuses[200] || 0) === w.posted,
        notes:
          w.posted +
          ' results of tasks this account submitted, posted by the bench on one clock with the msg out, ' +
          SIZES.webhookGapMs +
          ' ms apart over keep-alive connections; p50 ' +
          q(0.5) +
          ' ms, max ' +
          round(Math.max(...w.delaysMs), 2) +
          ' ms; answers ' +
          JSON.stringify(w.statuses),
      });
    }

    // -------------------------------------------------------------- 10,000 tasks in flight
    if (want('inflight')) {
      const N = SIZES.inflight;
      log(N + ' tasks in flight: heap growth and event-loop delay, ' + SIZES.inflightRounds + ' round(s)');
      // The noise floor of this machine: the same histogram on an idle Node-RED.
      const idle = monitorEventLoopDelay({ resolution: 1 });
      idle.enable();
      await sleep(1000);
      idle.disable();
      // One round; with `hog`, a child process spins on one core from the first submit to the end.
      async function inflightRound(r, hog) {
        const p = uid();
        await sim.configure({ renderMs: 3600000 });
        await sim.reset();
        await deployOursPoll(p, { initialDelayS: 1, maxIntervalS: 1, timeoutS: 3600 });
        const submit = nr.getNode(p + '.submit');
        const acked = counter(nr.getNode(p + '.poll'));
        const bad = counter(nr.getNode(p + '.errors'));
        const hogProc = hog ? startHog() : null; // spinning before the histograms start
        await sleep(200);
        const heap0 = await settledHeap();
        const rss0 = process.memoryUsage().rss;
        const all = monitorEventLoopDelay({ resolution: 1 });
        const burst = monitorEventLoopDelay({ resolution: 1 });
        all.enable();
        burst.enable();
        if (args.profile) await prof.start();
        const t0 = performance.now();
        // Msgs arrive as from an outside source: ten per macrotask, not one 10,000-msg loop.
        for (let i = 0; i < N; i++) {
          submit.receive({ payload: PROMPT, topic: 'bench', seq: i });
          if (i % 10 === 9) await new Promise((res) => setImmediate(res));
        }
        await waitFor(
          () => acked.n + bad.n >= N,
          180000,
          () => 'in flight: ' + acked.n + '/' + N + ' acknowledged, ' + bad.n + ' failed',
        );
        const submitMs = performance.now() - t0;
        burst.disable();
        if (args.profile) await prof.stop('inflight-submit-' + (hog ? 'hog-' : '') + (r + 1));
        const steady = monitorEventLoopDelay({ resolution: 1 });
        steady.enable();
        const s0 = await sim.stats();
        await sleep(SIZES.steadyMs);
        const s1 = await sim.stats();
        steady.disable();
        all.disable();
        if (hogProc) await hogProc.stop();
        const heap1 = await settledHeap();
        const rss1 = process.memoryUsage().rss;
        const c0 = performance.now();
        await nr.clear();
        const closeMs = performance.now() - c0;
        const ms = (h, q) => h.percentile(q) / 1e6;
        const run = {
          tasks: N,
          hog: !!hog,
          acked: acked.n,
          failed: bad.n,
          submitMs: round(submitMs, 0),
          heapGrowthMB: round((heap1 - heap0) / 1048576, 1),
          rssGrowthMB: round((rss1 - rss0) / 1048576, 1),
          eld: { p50: round(ms(all, 50), 2), p99: round(ms(all, 99), 2), max: round(all.max / 1e6, 2) },
          eldSubmit: { p99: round(ms(burst, 99), 2), max: round(burst.max / 1e6, 2) },
          eldSteady: { p99: round(ms(steady, 99), 2), max: round(steady.max / 1e6, 2) },
          steadyGetResponseRequests: diff(s0, s1, 'getResponseRequests'),
          steadyGetResponseTasks: diff(s0, s1, 'getResponseTasks'),
          closeMs: round(closeMs, 0),
        };
        log(
          '  round ' +
            (r + 1) +
            (hog ? ' (CPU hog beside)' : '') +
            ': heap +' +
            run.heapGrowthMB +
            ' MB, ELD p99 ' +
            run.eld.p99 +
            ' ms (submitting ' +
            run.eldSubmit.p99 +
            ', in flight ' +
            run.eldSteady.p99 +
            '), all acknowledged in ' +
            run.submitMs +
            ' ms',
        );
        return run;
      }
      const runs = [];
      for (let r = 0; r < SIZES.inflightRounds; r++) runs.push(await inflightRound(r, false));
      // The same burst while another process loads a core (a small device does other things too).
      const idleHog = monitorEventLoopDelay({ resolution: 1 });
      const hogRuns = [];
      if (SIZES.hogRounds > 0) {
        log('  the same burst while a CPU hog child process spins on one core, ' + SIZES.hogRounds + ' round(s)');
        const h = startHog();
        idleHog.enable();
        await sleep(1000);
        idleHog.disable();
        await h.stop();
        for (let r = 0; r < SIZES.hogRounds; r++) hogRuns.push(await inflightRound(r, true));
      }
      const idleP99 = round(idle.percentile(99) / 1e6, 2);
      const failed = runs.reduce((s, x) => s + x.failed, 0);
      const idleHogP99 = hogRuns.length ? round(idleHog.percentile(99) / 1e6, 2) : null;
      details.inflight = {
        tasks: N,
        steadyMs: SIZES.steadyMs,
        pollEveryS: 1,
        feed: '10 msgs per macrotask',
        idleEldP99: idleP99,
        idleHogEldP99: idleHogP99,
        runs,
        hogRuns,
      };
      rows.push({
        id: 'inflight-heap',
        metric: N + ' tasks in flight: heap growth',
        unit: 'MB',
        ours: round(median(runs.map((x) => x.heapGrowthMB)), 1),
        baseline: null,
        baselineLabel: 'heapUsed after GC before the first submit vs after GC with all in flight',
        ratio: null,
        ratioRounds: runs.map((x) => x.heapGrowthMB),
        goal: { op: '<=', value: 64, on: 'ours' },
        valid: failed === 0,
        notes:
          round((median(runs.map((x) => x.heapGrowthMB)) * 1024) / N, 2) +
          ' KB per task; rss growth ' +
          median(runs.map((x) => x.rssGrowthMB)) +
          ' MB' +
          (failed ? '; FAILED TASKS: ' + failed : ''),
      });
      rows.push({
        id: 'inflight-eld-p99-polling',
        metric: N + ' tasks in flight: event-loop delay p99 while polling them',
        unit: 'ms',
        ours: median(runs.map((x) => x.eldSteady.p99)),
        baseline: idleP99,
        baselineLabel: 'idle Node-RED, same histogram (monitorEventLoopDelay, resolution 1 ms)',
        ratio: null,
        ratioRounds: runs.map((x) => x.eldSteady.p99),
        goal: { op: '<', value: 20, on: 'ours' },
        valid: failed === 0,
        notes:
          SIZES.steadyMs +
          ' ms window, a batched getResponse tick every second (' +
          median(runs.map((x) => x.steadyGetResponseRequests)) +
          ' requests for ' +
          median(runs.map((x) => x.steadyGetResponseTasks)) +
          ' task-polls); max ' +
          median(runs.map((x) => x.eldSteady.max)) +
          ' ms',
      });
      rows.push({
        id: 'inflight-eld-p99-submitting',
        metric: N + ' tasks in flight: event-loop delay p99 while submitting all of them at once',
        unit: 'ms',
        ours: median(runs.map((x) => x.eldSubmit.p99)),
        baseline: idleP99,
        baselineLabel: 'idle Node-RED, same histogram',
        ratio: null,
        ratioRounds: runs.map((x) => x.eldSubmit.p99),
        goal: { op: '<', value: 20, on: 'ours' },
        valid: failed === 0,
        notes:
          N +
          ' msgs into ovi submit, 10 per macrotask, no concurrency cap; all acknowledged in ' +
          median(runs.map((x) => x.submitMs)) +
          ' ms; max ' +
          median(runs.map((x) => x.eldSubmit.max)) +
          ' ms; whole phase (submitting + polling) p99 ' +
          median(runs.map((x) => x.eld.p99)) +
          ' ms',
      });
      if (hogRuns.length) {
        const hogFailed = hogRuns.reduce((n, x) => n + x.failed, 0);
        rows.push({
          id: 'inflight-eld-p99-submitting-hog',
          metric: N + ' tasks submitted at once while another process loads a core: event-loop delay p99',
          unit: 'ms',
          ours: median(hogRuns.map((x) => x.eldSubmit.p99)),
          baseline: idleHogP99,
          baselineLabel: 'idle Node-RED with the same CPU hog beside it, same histogram',
          ratio: null,
          ratioRounds: hogRuns.map((x) => x.eldSubmit.p99),
          goal: { op: '<', value: 20, on: 'ours' },
          valid: hogFailed === 0,
          notes:
            'a child process spinning on one core (node -e "for(;;){}") from before the first submit to the end of the round; ' +
            N +
            ' msgs, 10 per macrotask; all acknowledged in ' +
            median(hogRuns.map((x) => x.submitMs)) +
            ' ms; max ' +
            median(hogRuns.map((x) => x.eldSubmit.max)) +
            ' ms' +
            (hogFailed ? '; FAILED TASKS: ' + hogFailed : ''),
        });
      }
    }

    // -------------------------------------------------------------- webhook ingest
    if (want('ingest')) {
      log(
        'webhook ingest: ' +
          SIZES.ingestConc +
          ' keep-alive connections, ' +
          SIZES.ingestMs +
          ' ms per side, ' +
          SIZES.ingestWarmRounds +
          ' warm-up and ' +
          SIZES.ingestRounds +
          ' measured round(s)',
      );
      const oviPath = '/bench/ovi-ingest';
      const corePath = '/bench/core-ingest';
      await nr.deploy(flows.ingestFlows(sim.url, oviPath, corePath));
      const emitted = counter(nr.getNode('ing.sink'));
      const coreIn = counter(nr.getNode('ing.in'));
      let seed = 1;
      let k = 0;
      async function load(kind, durationMs, profileAs) {
        const p = kind === 'ovi' ? oviPath : corePath;
        const cfg = {
          url: nr.url + p + '?token=' + encodeURIComponent(flows.WEBHOOK_TOKEN),
          concurrency: SIZES.ingestConc,
          warmupMs: SIZES.ingestWarmMs,
          durationMs,
          maxCount: SIZES.ingestMax,
          seed: seed++,
        };
        const e0 = kind === 'ovi' ? emitted.n : coreIn.n;
        if (profileAs) await prof.start();
        const c0 = process.cpuUsage();
        const out = await new Promise((resolve, reject) => {
          execFile(
            process.execPath,
            [path.join(__dirname, 'lib', 'loadgen.js'), JSON.stringify(cfg)],
            { timeout: SIZES.ingestWarmMs + durationMs + 30000 },
            (err, stdout, stderr) => (err ? reject(new Error('loadgen: ' + err.message + '\n' + stderr)) : resolve(stdout)),
          );
        });
        const cpu = cpuMs(process.cpuUsage(c0));
        await sleep(100); // the last deliveries' msgs leave
        if (profileAs) await prof.stop(profileAs);
        const r = JSON.parse(out.trim().split('\n').pop());
        r.cpuUsPerDelivery = round((cpu * 1000) / Math.max(1, r.total), 1);
        r.msgs = (kind === 'ovi' ? emitted.n : coreIn.n) - e0;
        return r;
      }
      for (let w = 0; w < SIZES.ingestWarmRounds; w++) {
        await load('core', SIZES.ingestMs / 2);
        await load('ovi', SIZES.ingestMs / 2);
      }
      const o = [];
      const c = [];
      for (let r = 0; r < SIZES.ingestRounds; r++) {
        for (const kind of r % 2 === 0 ? ['core', 'ovi'] : ['ovi', 'core']) {
          if (kind === 'ovi') o.push(await load('ovi', SIZES.ingestMs, args.profile ? 'ingest-ovi-' + ++k : null));
          else c.push(await load('core', SIZES.ingestMs));
        }
        log(
          '  round ' +
            (r + 1) +
            ': ovi webhook ' +
            round(o[r].rps, 0) +
            '/s (' +
            o[r].cpuUsPerDelivery +
            ' µs CPU each), core http in ' +
            round(c[r].rps, 0) +
            '/s (' +
            c[r].cpuUsPerDelivery +
            ' µs)',
        );
      }
      await nr.clear();
      details.ingest = { concurrency: SIZES.ingestConc, durationMs: SIZES.ingestMs, ours: o, core: c };
      const ratios = o.map((x, i) => x.rps / c[i].rps);
      const bad = [...o, ...c].reduce((s, x) => s + (x.total - x.totalOk), 0);
      const lost = o.reduce((s, x) => s + (x.totalOk - x.msgs), 0);
      rows.push({
        id: 'webhook-ingest',
        metric: 'Webhook ingest, deliveries per second into one Node-RED',
        unit: 'deliveries/s',
        ours: round(median(o.map((x) => x.rps)), 0),
        baseline: round(median(c.map((x) => x.rps)), 0),
        baselineLabel: 'core http in → http response, same Node-RED and server',
        ratio: round(median(ratios)),
        ratioRounds: ratios.map((x) => round(x)),
        goal: { op: '>=', value: 0.9 },
        valid: bad === 0 && lost === 0,
        notes:
          'CPU per delivery (Node-RED process): ours ' +
          median(o.map((x) => x.cpuUsPerDelivery)) +
          ' µs, core ' +
          median(c.map((x) => x.cpuUsPerDelivery)) +
          ' µs; p99 latency ms: ours ' +
          round(median(o.map((x) => x.p99Ms)), 1) +
          ', core ' +
          round(median(c.map((x) => x.p99Ms)), 1) +
          '; every delivery a distinct result (uncorrelated: no submit before it); non-200 answers ' +
          bad +
          ', accepted but not emitted ' +
          lost,
      });
    }

    // -------------------------------------------------------------- footprint of an idle Node-RED
    if (want('footprint')) {
      log('idle Node-RED (no flows), bare vs with this package: ' + SIZES.footprintRounds + ' round(s) of two spawned processes');
      const pairs = await footprint({
        pkgDir,
        pkgName: require(path.join(ROOT, 'package.json')).name,
        rounds: SIZES.footprintRounds,
        settleMs: SIZES.footprintSettleMs,
        log,
      });
      details.footprint = { settleMs: SIZES.footprintSettleMs, pairs };
      for (const [id, key, unit, limit, what] of [
        ['footprint-rss', 'rssMB', 'MB', 5, 'RSS'],
        ['footprint-start', 'startMs', 'ms', 30, 'start time (spawn → "Started flows")'],
      ]) {
        const diffs = pairs.map((x) => round(x.ours[key] - x.bare[key], 2));
        const ours = round(median(pairs.map((x) => x.ours[key])), 1);
        const bare = round(median(pairs.map((x) => x.bare[key])), 1);
        rows.push({
          id,
          metric: 'Idle Node-RED ' + require('node-red/package.json').version + ' (no flows), ' + what + ': with this package vs bare',
          unit,
          ours,
          baseline: bare,
          baselineLabel: 'the same Node-RED without the package, started alternately in the same run',
          ratio: round(ours / bare, 3),
          ratioRounds: diffs,
          added: round(median(diffs), 1),
          goal: { op: '<=', value: limit, on: 'added' },
          valid: true,
          notes:
            'added (median of the per-round differences, shown per round above): ' +
            round(median(diffs), 1) +
            ' ' +
            unit +
            '; node-red command with its default settings, own userDir, RSS read ' +
            SIZES.footprintSettleMs +
            ' ms after "Started flows"; the package installed as in a userDir (node_modules link)',
        });
      }
    }
  } finally {
    raw.close();
    await nr.stop().catch(() => {});
    await sim.close().catch(() => {});
    fs.rmSync(pkgDir, { recursive: true, force: true });
  }

  for (const row of rows) row.met = isMet(row);
  const cpus = os.cpus();
  const machine = {
    cpu: (cpus[0] || {}).model || 'unknown',
    cores: cpus.length,
    memoryGB: round(os.totalmem() / 1073741824, 1),
    loadAverage: os.loadavg().map((x) => round(x, 2)),
    os: os.type() + ' ' + os.release() + ' ' + os.arch(),
    node: process.version,
    nodeRed: require('node-red/package.json').version,
    package: require(path.join(ROOT, 'package.json')).version,
    date: new Date().toISOString(),
  };
  const result = {
    machine,
    mode: args.smoke ? 'smoke' : 'full',
    policy: args.policy || 'adaptive',
    profiled: !!args.profile,
    rounds: {
      cpu: SIZES.cpuRounds,
      ticks: SIZES.rounds,
      calls: SIZES.rounds,
      inflight: SIZES.inflightRounds,
      hog: SIZES.hogRounds,
      ingest: SIZES.ingestRounds,
      footprint: SIZES.footprintRounds,
    },
    durationS: round((Date.now() - started) / 1000, 1),
    rows,
    details,
    nodeRedLog: nr.logs.filter((l) => !/Projects disabled|Encrypted credentials not found/.test(l.msg)).slice(0, 50),
  };
  fs.mkdirSync(OUT, { recursive: true });
  fs.writeFileSync(path.join(OUT, 'results.json'), JSON.stringify(result, null, 2) + '\n');
  fs.writeFileSync(path.join(OUT, 'results.md'), markdown(result));
  process.stdout.write('\n' + table(rows) + '\n');
  log('written ' + path.join(OUT, 'results.json') + ' and results.md in ' + result.durationS + ' s');
}

function isMet(row) {
  if (!row.goal) return null;
  if (row.valid === false) return false;
  const v = row.goal.on === 'ours' ? row.ours : row.goal.on === 'added' ? row.added : row.ratio;
  if (!Number.isFinite(v)) return false;
  if (row.goal.op === '<=') return v <= row.goal.value;
  if (row.goal.op === '<') return v < row.goal.value;
  if (row.goal.op === '>=') return v >= row.goal.value;
  return null;
}

function goalText(row) {
  if (!row.goal) return '—';
  return (
    (row.goal.on === 'ours' ? 'ours ' : row.goal.on === 'added' ? 'added ' : 'ratio ') +
    row.goal.op.replace('<=', '≤').replace('>=', '≥') +
    ' ' +
    row.goal.value
  );
}

const fmt = (v) => (v === null || v === undefined ? '—' : String(v));

function table(rows) {
  const head = ['Metric', 'Ours', 'Baseline', 'Ratio', 'Goal', 'Met'];
  const lines = rows.map((r) => [
    r.metric + ' [' + r.unit + ']',
    fmt(r.ours),
    fmt(r.baseline),
    fmt(r.ratio),
    goalText(r),
    r.met === null ? '—' : r.valid === false ? 'INVALID RUN' : r.met ? 'yes' : 'NO',
  ]);
  return ['| ' + head.join(' | ') + ' |', '|' + head.map(() => '---').join('|') + '|', ...lines.map((l) => '| ' + l.join(' | ') + ' |')].join('\n');
}

function markdown(result) {
  const m = result.machine;
  const out = [];
  out.push(
    '# Benchmark results (' +
      result.mode +
      (result.profiled ? ', PROFILED: timings not comparable' : '') +
      (result.policy !== 'adaptive' ? ', ours polled by the ' + result.policy + ' schedule' : '') +
      ')',
  );
  out.push('');
  out.push('Generated by `npm run bench` (bench/run.js) on ' + m.date + '; do not edit by hand. What each side does: bench/README.md.');
  out.push('');
  out.push(
    'Machine: ' +
      m.cpu +
      ', ' +
      m.cores +
      ' cores, ' +
      m.memoryGB +
      ' GB, ' +
      m.os +
      ' (load average ' +
      m.loadAverage.join(' ') +
      ' at the end); Node.js ' +
      m.node +
      ', Node-RED ' +
      m.nodeRed +
      ', package ' +
      m.package +
      '.',
  );
  out.push(
    'Rounds: CPU ' +
      result.rounds.cpu +
      ', ticks ' +
      result.rounds.ticks +
      ', calls ' +
      result.rounds.calls +
      ', in flight ' +
      result.rounds.inflight +
      ' (with a CPU hog ' +
      result.rounds.hog +
      '), ingest ' +
      result.rounds.ingest +
      ', footprint ' +
      result.rounds.footprint +
      '. Medians shown; a ratio is taken within each round, then the median of the ratios. Whole run: ' +
      result.durationS +
      ' s.',
  );
  out.push('');
  out.push(table(result.rows));
  out.push('');
  if (result.details.schedule) out.push(scheduleTable(result.details.schedule, result.details.webhookDelay));
  out.push('## Rows');
  out.push('');
  for (const r of result.rows)
    out.push('- **' + r.metric + '**: baseline = ' + r.baselineLabel + '. Per round: ' + (r.ratioRounds || []).join(', ') + '. ' + (r.notes || ''));
  out.push('');
  return out.join('\n');
}

main().catch((e) => {
  console.error('[bench] failed: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
