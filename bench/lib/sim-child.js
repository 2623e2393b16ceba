'use strict';
// The Runware simulator in its own process, so its CPU never counts as Node-RED's. Driven over IPC:
// {id, cmd, arg} → {id, ok, value | error}.
const path = require('path');
// argv[2]: the package directory (a snapshot of the build, see node-red.js), default the repo.
const pkgDir = process.argv[2] || path.join(__dirname, '..', '..');
const { createSimulator } = require(path.join(pkgDir, 'dist', 'simulator', 'server.js'));
const jobs = require(path.join(pkgDir, 'dist', 'simulator', 'jobs.js'));

let sim = null;

// Bench instrumentation of the simulator's job module (the simulator itself has one renderMs for
// all jobs): a render time per taskUUID, the time each result becomes ready, and whether processing
// items carry `progress` (Runware may not report it for Ovi). api.js calls these through the
// module's exports at each request, so replacing them here takes effect.
const renders = new Map(); // taskUUID → renderMs
const dueAt = new Map(); // videoUUID → epoch ms
let withProgress = false;
const createJob = jobs.createJob;
jobs.createJob = (task, init) => {
  const renderMs = renders.get(task.taskUUID);
  if (renderMs === undefined) return createJob(task, init);
  renders.delete(task.taskUUID);
  const job = createJob(task, { ...init, renderMs });
  for (const r of job.results) dueAt.set(r.videoUUID, r.dueAt);
  return job;
};
// The simulator adds progress only when its `progress` option is on: `renders` switches it.
const viewJob = jobs.viewJob;
jobs.viewJob = (job, now, view, ...rest) => viewJob(job, now, { ...(view || {}), progress: withProgress }, ...rest);

const commands = {
  async start(opts) {
    sim = await createSimulator(opts);
    return { url: sim.url, baseUrl: sim.baseUrl };
  },
  stats() {
    const s = sim.stats();
    delete s.acceptedByUUID; // one entry per task: large, and not needed here
    return s;
  },
  reset() {
    sim.reset();
    return true;
  },
  configure(patch) {
    sim.configure(patch);
    return true;
  },
  /** The body of the latest videoInference request (to give the raw client the very same task). */
  lastSubmit() {
    const reqs = sim.requests();
    for (let i = reqs.length - 1; i >= 0; i--) if (reqs[i].bodyText.includes('"videoInference"')) return reqs[i].bodyText;
    return null;
  },
  cpu() {
    return process.cpuUsage();
  },
  /** {byTask: {taskUUID: renderMs}, progress: boolean}: render times for tasks about to be submitted. */
  renders(arg) {
    for (const [uuid, ms] of Object.entries(arg.byTask || {})) renders.set(uuid, ms);
    if (typeof arg.progress === 'boolean') withProgress = arg.progress;
    return true;
  },
  /** videoUUID → when it became ready (epoch ms), for the results of tasks given a render time; then forgotten. */
  dueTimes() {
    const out = Object.fromEntries(dueAt);
    dueAt.clear();
    return out;
  },
  async close() {
    if (sim) await sim.close();
    setImmediate(() => process.exit(0));
    return true;
  },
};

process.on('message', async (m) => {
  try {
    const value = await commands[m.cmd](m.arg);
    process.send({ id: m.id, ok: true, value });
  } catch (e) {
    process.send({ id: m.id, ok: false, error: e && e.stack ? e.stack : String(e) });
  }
});
process.on('disconnect', () => process.exit(0));
