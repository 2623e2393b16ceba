'use strict';
// A CPU hog: a child process spinning on one core, to measure our event loop while another process
// competes for the machine (as on a small device running other things).
const { spawn } = require('child_process');

function startHog() {
  const child = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  // If the bench dies, the hog must not outlive it.
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  return {
    pid: child.pid,
    async stop() {
      process.removeListener('exit', onExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

module.exports = { startHog };
