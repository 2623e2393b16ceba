'use strict';
// Jobs in flight survive a real Node-RED process being SIGKILLed and started again on the same
// userDir, and a full redeploy through the admin API: every result is delivered, none twice, no
// taskUUID is accepted twice. Results are observed outside Node-RED: the flow POSTs each one to a
// collector server in this test process, which also runs the simulator (it outlives the kills).
const assert = require('assert');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { devNodeRed, startNodeRed, request, collectorServer, deploy } = require('../support/real-node-red');
const { createSimulator } = require('../../dist/simulator/server.js');
const { FileStore } = require('../../dist/nodes/lib/job-store.js');
const { sleep, pool, leaks, linkedUserDir, sigkill, forwarder, restartFlow, report } = require('./support');

const API_KEY = 'rel-restart-key-V7nq2Lx9Pj4s';
const TOKEN = 'rel-restart-token-Hc8wYt3Kd6Rm';

describe('reliability: restart and redeploy of a real Node-RED', function () {
  this.timeout(240000);
  let sim;
  let userDir;
  let red;
  let logs = ''; // stdout + stderr of every Node-RED process of this file
  let front; // the fixed public URL of Node-RED for webhooks (its port changes at each restart)
  const redJs = devNodeRed().redJs;

  const adminUrl = () => red.adminUrl || red.url;

  async function start() {
    red = await startNodeRed({ redJs, userDir });
    return red;
  }
  async function kill() {
    await sigkill(red);
    logs += red.log();
  }

  before(async () => {
    sim = await createSimulator({ apiKeys: [API_KEY], renderMs: 5000 });
    userDir = linkedUserDir();
    await start();
    front = await forwarder({
      get url() {
        return red.url;
      },
    });
  });
  after(async () => {
    if (red) {
      await red.stop();
      logs += red.log();
    }
    if (sim) await sim.close();
    if (front) await front.close();
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });
  afterEach(function () {
    if (this.currentTest.state === 'failed' && red) console.log('--- Node-RED log ---\n' + red.log().slice(-5000));
  });

  async function setup(prefix, { maxConcurrent = 0, renderMs = 5000, delivery = 'poll', delayToPoll = 0 } = {}) {
    sim.reset();
    sim.configure({ renderMs, slowMs: 30000, webhookRetryDelaysMs: [500, 1500, 4000] });
    const collector = await collectorServer();
    await deploy(
      red,
      restartFlow({
        prefix,
        endpoint: sim.url,
        collectorUrl: collector.url,
        apiKey: API_KEY,
        token: TOKEN,
        maxConcurrent,
        delivery,
        publicUrl: front.url,
        delayToPoll,
      }),
    );
    await waitForRoute(prefix);
    return collector;
  }

  async function waitForRoute(prefix) {
    for (let i = 0; i < 80; i++) {
      const r = await request('GET', red.url + '/rel/ready/' + prefix).catch(() => ({ status: 0 }));
      if (r.status === 200) return;
      await sleep(250);
    }
    throw new Error('the flow did not start');
  }

  /** POST n tasks, each with its own taskUUID, to the flow's http-in; resolves the UUIDs. */
  async function submit(n, label) {
    const uuids = Array.from({ length: n }, () => crypto.randomUUID());
    await pool(n, 10, async (i) => {
      const r = await request('POST', red.url + '/rel/submit', { body: { positivePrompt: label + ' ' + i, taskUUID: uuids[i] } });
      assert.strictEqual(r.status, 200, r.body);
    });
    return uuids;
  }

  async function until(what, cond, ms) {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
      await sleep(100);
    }
  }

  /** What the runtime's own file store would load now (its format is the runtime's business). */
  async function persistedJobs(prefix) {
    const { state } = await new FileStore(path.join(userDir, '.ovi', 'jobs-' + prefix + '.cfg.json'), { readOnly: true }).load();
    return state ? state.jobs : [];
  }

  const accepted = (uuids) => uuids.filter((u) => sim.stats().acceptedByUUID[u]).length;
  const resultsFor = (collector, uuids) => {
    const set = new Set(uuids);
    return (collector.got['/result'] || []).filter((b) => b && set.has(b.taskUUID));
  };

  /** Wait for one result per UUID, then a little longer for duplicates; check, print, return figures. */
  async function settle(collector, uuids, title, extra) {
    const t0 = Date.now();
    await until(
      uuids.length + ' results',
      () => new Set(resultsFor(collector, uuids).map((b) => b.taskUUID)).size === uuids.length || (collector.got['/error'] || []).length > 0,
      20000, // about 9 s are needed: 5 s renders, 1 s resume delay, polls
    ).catch(() => {});
    await sleep(2500);
    const got = resultsFor(collector, uuids);
    const counts = {};
    for (const b of got) counts[b.taskUUID] = (counts[b.taskUUID] || 0) + 1;
    const errors = collector.got['/error'] || [];
    const acceptedCounts = uuids.map((u) => sim.stats().acceptedByUUID[u] || 0);
    report(title, {
      tasks: uuids.length,
      results: got.length,
      distinct: Object.keys(counts).length,
      twice: Object.values(counts).filter((c) => c > 1).length,
      failures: errors.length,
      acceptedOnce: acceptedCounts.filter((c) => c === 1).length,
      acceptedTwice: acceptedCounts.filter((c) => c > 1).length,
      duplicateRejections: sim.stats().duplicateRejections,
      settleS: ((Date.now() - t0) / 1000).toFixed(1),
      ...(typeof extra === 'function' ? extra() : extra),
    });
    assert.deepStrictEqual(errors.map((e) => e.code + ': ' + e.message).slice(0, 5), [], 'failures reported by the flow');
    assert.deepStrictEqual(
      uuids.filter((u) => !counts[u]),
      [],
      'tasks without a result',
    );
    assert.deepStrictEqual(
      Object.entries(counts).filter(([, c]) => c > 1),
      [],
      'results delivered twice',
    );
    assert.ok(
      acceptedCounts.every((c) => c === 1),
      'each task accepted exactly once: ' + JSON.stringify(acceptedCounts),
    );
  }

  it('SIGKILL while 50 tasks render, restart on the same userDir: 50 results, none twice', async () => {
    const collector = await setup('kill', { delayToPoll: 300 });
    try {
      const uuids = await submit(50, 'kill');
      await until('50 acceptances', () => accepted(uuids) === 50, 20000);
      await sleep(500);
      const before = resultsFor(collector, uuids).length;
      const persisted = await persistedJobs('kill');
      await kill();
      const t = Date.now();
      await start();
      await settle(collector, uuids, 'restart', {
        resultsBeforeKill: before,
        persistedAtKill: persisted.length,
        persistedRunning: persisted.filter((j) => j.state === 'running').length,
        persistedWithOwner: persisted.filter((j) => j.ownerId).length,
        restartS: ((Date.now() - t) / 1000).toFixed(1),
      });
      // Meaningful only if most were still rendering when killed (5 s renders, ~1 s to submit them).
      assert.ok(before <= 25, before + ' of 50 were already delivered before the kill: the machine is too slow for this test');
    } finally {
      await collector.close();
    }
  });

  it('full redeploy (POST /flows, Node-RED-Deployment-Type: full) while 50 tasks render: 50 results, none twice', async () => {
    const collector = await setup('redeploy', { delayToPoll: 300 });
    try {
      const uuids = await submit(50, 'redeploy');
      await until('50 acceptances', () => accepted(uuids) === 50, 20000);
      await sleep(300);
      const beforeDeploy = resultsFor(collector, uuids).length;
      const flows = (await request('GET', adminUrl() + '/flows', { headers: { 'Node-RED-API-Version': 'v1' } })).json();
      const r = await request('POST', adminUrl() + '/flows', {
        headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full', 'Node-RED-API-Version': 'v1' },
        body: flows,
        timeoutMs: 30000,
      });
      assert.ok(r.status === 204 || r.status === 200, 'deploy answered ' + r.status + ' ' + r.body);
      await settle(collector, uuids, 'redeploy', { resultsBeforeDeploy: beforeDeploy });
      assert.ok(beforeDeploy <= 25, beforeDeploy + ' of 50 were already delivered before the deploy: the machine is too slow for this test');
    } finally {
      await collector.close();
    }
  });

  it('a queued backlog (maxConcurrent 5, 20 tasks) survives a SIGKILL and keeps the cap', async () => {
    const renderMs = 2500;
    const collector = await setup('backlog', { maxConcurrent: 5, renderMs });
    try {
      const uuids = await submit(20, 'backlog');
      await until('5 acceptances', () => accepted(uuids) === 5, 20000);
      await sleep(500);
      const acceptedAtKill = accepted(uuids);
      await kill();
      await start();
      // Acceptance times from the simulator's log: in any window of renderMs at most 5 may start.
      await settle(collector, uuids, 'backlog', { acceptedAtKill });
      const times = sim
        .requests()
        .filter((q) => q.status === 200 && q.tasks.some((t) => t && t.taskType === 'videoInference'))
        .map((q) => q.at)
        .sort((a, b) => a - b);
      let worst = 0;
      for (let i = 0; i < times.length; i++) worst = Math.max(worst, times.filter((t) => t >= times[i] && t < times[i] + renderMs).length);
      console.log('      [backlog] most acceptances within one render time: ' + worst + ' (cap 5)');
      assert.strictEqual(acceptedAtKill, 5, 'the cap held before the kill');
      assert.ok(worst <= 5, 'the cap held across the restart');
    } finally {
      await collector.close();
    }
  });

  it('webhook delivery: a backlog (maxConcurrent 2, 6 tasks) survives a SIGKILL, results arrive by webhook', async () => {
    const collector = await setup('hookbacklog', { maxConcurrent: 2, renderMs: 3000, delivery: 'webhook' });
    try {
      const uuids = await submit(6, 'hookbacklog');
      await until('2 acceptances', () => accepted(uuids) === 2, 20000);
      await sleep(300);
      await kill();
      await start();
      // Resumed webhook-mode tasks are also polled (deliveries may have been missed while down):
      // whichever way a result comes first, it leaves once.
      await settle(collector, uuids, 'webhook backlog', () => ({
        webhookPostsAnswered200: sim.deliveries().filter((d) => d.kind === 'webhook' && d.status === 200).length,
        getResponseRequests: sim.stats().getResponseRequests,
      }));
    } finally {
      await collector.close();
    }
  });

  it('SIGKILL while the submits are in flight (accepted, answers not back yet): restart finishes them, none twice', async () => {
    const collector = await setup('inflight');
    try {
      sim.configure({ slowMs: 20000 });
      sim.queueFaults(Array(10).fill('slow')); // accepted, answered only after 20 s
      const uuids = await submit(10, 'inflight');
      await until('10 acceptances', () => accepted(uuids) === 10, 20000);
      await sleep(300);
      const persisted = await persistedJobs('inflight');
      await kill();
      sim.configure({ slowMs: 30000 });
      await start();
      await settle(collector, uuids, 'in-flight submits', {
        persistedAtKill: persisted.length,
        persistedStates: persisted.map((j) => j.state).join(','),
        persistedWithOwner: persisted.filter((j) => j.ownerId).length,
      });
    } finally {
      await collector.close();
    }
  });

  it('secrets: the API key and webhook token are in no exported flow, flow file, job store or log', async () => {
    // Webhook-mode tasks waiting for a slot: their task (webhookURL and all) is in the job store.
    const collector = await setup('secrets', { maxConcurrent: 1, renderMs: 60000, delivery: 'webhook' });
    try {
      const uuids = await submit(3, 'secrets');
      await until('1 acceptance', () => accepted(uuids) === 1, 20000);
      await sleep(300);
      const sent = sim.requests().find((q) => q.tasks.some((t) => t && t.taskType === 'videoInference'));
      assert.ok(sent && sent.bodyText.includes('token='), 'the webhookURL with its token went to Runware, as it must');
    } finally {
      await collector.close();
    }
    const flows = (await request('GET', adminUrl() + '/flows', { headers: { 'Node-RED-API-Version': 'v2' } })).body;
    const files = {};
    for (const f of ['flows.json', 'flows_cred.json', ...fs.readdirSync(path.join(userDir, '.ovi')).map((x) => '.ovi/' + x)]) {
      try {
        files[f] = fs.readFileSync(path.join(userDir, f), 'utf8');
      } catch {
        // a compaction's temporary file, renamed away meanwhile
      }
    }
    const found = leaks([API_KEY, TOKEN], { 'GET /flows': flows, ...files, 'Node-RED stdout+stderr': logs + red.log() });
    report('secrets (real Node-RED)', {
      jobsInStore: (await persistedJobs('secrets')).length,
      checked: ['GET /flows', ...Object.keys(files), 'logs'].length,
      logBytes: (logs + red.log()).length,
      leaks: found.length,
    });
    assert.deepStrictEqual(found, [], 'secrets leaked');
    assert.ok(files['flows_cred.json'].includes('"$"'), 'credentials are stored encrypted');
  });
});
