'use strict';
// Parent side of sim-child.js: start the simulator in a child process and call it over IPC.
const { fork } = require('child_process');
const path = require('path');

async function startSimChild(opts, pkgDir) {
  // No inherited execArgv: `node --cpu-prof bench/run.js` profiles Node-RED, not the simulator.
  const child = fork(path.join(__dirname, 'sim-child.js'), pkgDir ? [pkgDir] : [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let next = 1;
  const pending = new Map();
  child.on('message', (m) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.ok) p.resolve(m.value);
    else p.reject(new Error('simulator: ' + m.error));
  });
  child.on('exit', (code) => {
    for (const p of pending.values()) p.reject(new Error('simulator process exited (' + code + ')'));
    pending.clear();
  });
  const call = (cmd, arg) =>
    new Promise((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject });
      child.send({ id, cmd, arg });
    });
  const info = await call('start', opts);
  return {
    url: info.url,
    baseUrl: info.baseUrl,
    pid: child.pid,
    stats: () => call('stats'),
    reset: () => call('reset'),
    configure: (patch) => call('configure', patch),
    lastSubmit: () => call('lastSubmit'),
    cpu: () => call('cpu'),
    renders: (arg) => call('renders', arg),
    dueTimes: () => call('dueTimes'),
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      call('close').catch(() => {});
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

module.exports = { startSimChild };
