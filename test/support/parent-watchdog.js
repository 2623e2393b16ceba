'use strict';
// Preloaded (node -r) into every Node-RED that test/support/real-node-red.js starts: exits it when the
// test process that started it is gone (killed, crashed, or stopped by CI's time limit before its
// `after` hooks ran), so no Node-RED outlives its test. The parent's pid comes in OVI_TEST_PARENT_PID.
const parent = Number(process.env.OVI_TEST_PARENT_PID);
if (parent > 0) {
  setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      process.exit(0);
    }
  }, 1000).unref();
}
