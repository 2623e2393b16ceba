'use strict';
// The Runware simulator in its own process, so its CPU never counts as Node-RED's. Driven over IPC:
// {id, cmd, arg} → {id, ok, value | error}.
const path = require('path');
// argv[2]: the package directory (a snapshot of the build, see node-red.js), default the repo.
const pkgDir = process.argv[2] || path.join(__dirname, '..', '..');
const { createSimulator } = require(path.join(pkgDir, 'dist', 'simulator', 'server.js'));

let sim = null;

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
