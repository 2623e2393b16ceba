#!/usr/bin/env node
// npm run screenshots: the README's pictures, taken from the real editor. The packed package in a
// fresh Node-RED with the simulator (test/browser/support.js), the doorbell example on its tab with
// an embedded MQTT broker (scripts/start.js) and a local camera serving the simulator's sample
// snapshot; Debian's Chromium (never a downloaded browser) run by playwright-core. The example is
// run once through its inject so the nodes show their statuses, then:
//   docs/images/flow.png           the doorbell flow after one ring
//   docs/images/sidebar.png        the Ovi sidebar after that ring: the job's result with its player
//   docs/images/submit-dialog.png  the edit dialog of its ovi submit node (Core tab)
// Everything binds 127.0.0.1. Run: npm run screenshots (builds first).
'use strict';
/* global RED, $, window */
const { execFileSync } = require('child_process');
const fs = require('fs');
const http = require('http');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'docs', 'images');
const EXAMPLE = '04-doorbell-video-notification.json';
const SUBMIT = 'door.submit';

/** A "camera" on 127.0.0.1: GET anything → the simulator's sample JPEG snapshot. */
async function startCamera() {
  const jpeg = fs.readFileSync(path.join(ROOT, 'simulator', 'media', 'snapshot.jpg'));
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': jpeg.length });
    res.end(jpeg);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: 'http://127.0.0.1:' + server.address().port + '/snapshot.jpg', close: () => new Promise((r) => server.close(() => r())) };
}

async function main() {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.js')], { cwd: ROOT, stdio: 'inherit' });
  const { CHROMIUM, exampleFlow, startStack, launchBrowser } = require(path.join(ROOT, 'test', 'browser', 'support.js'));
  const { startBroker } = require(path.join(ROOT, 'scripts', 'start.js'));
  if (!fs.existsSync(CHROMIUM)) throw new Error(CHROMIUM + ' is absent: apt-get install -y chromium (no browser is downloaded)');
  fs.mkdirSync(OUT, { recursive: true });

  const closers = [];
  try {
    const camera = await startCamera();
    closers.push(camera.close);
    const broker = await startBroker({ host: '127.0.0.1', port: 0 });
    closers.push(broker.close);
    // startStack hands its own environment to Node-RED: the example reads these three.
    Object.assign(process.env, { CAMERA_URL: camera.url, MQTT_BROKER: broker.host, MQTT_PORT: String(broker.port) });
    // /media/ovi/... (Home Assistant's media folder) → media/ovi/... in the temp userDir, as npm start does.
    const flows = exampleFlow(EXAMPLE).map((n) =>
      typeof n.filePath === 'string' && n.filePath.startsWith('/media/') ? { ...n, filePath: n.filePath.slice(1) } : n,
    );
    const stack = await startStack({ flows, renderMs: 1500 });
    closers.push(stack.stop);
    const browser = await launchBrowser();
    closers.push(browser.close);
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 1500, height: 620 });
    await page.goto(stack.url);
    await page.waitForFunction((id) => window.RED && RED.nodes && RED.nodes.node(id) && RED.workspaces.active() === 'tab.example', SUBMIT, { timeout: 90000 });
    await page.evaluate(() => {
      RED.menu.setSelected('menu-item-sidebar', false);
      RED.menu.setSelected('menu-item-palette', false);
    });

    // One ring, by the inject's button (as a user clicks it); wait until the clip is saved and routed.
    await page
      .locator('[id="door.mqtt"] .red-ui-flow-node-status-label')
      .filter({ hasText: /connected/ })
      .waitFor({ timeout: 30000 });
    await page.locator('[id="door.inject"] .red-ui-flow-node-button').click();
    await page.locator('[id="door.poll"] .red-ui-flow-node-status-label').filter({ hasText: /done/ }).waitFor({ timeout: 60000 });
    await page.waitForTimeout(1500);
    await page
      .locator('.red-ui-notification')
      .first()
      .waitFor({ state: 'detached', timeout: 15000 })
      .catch(() => {});
    await page.evaluate(() => {
      RED.view.select('');
      $('#red-ui-workspace-chart').scrollTop(0).scrollLeft(0);
    });
    const flowPng = path.join(OUT, 'flow.png');
    const box = await page.locator('#red-ui-workspace-chart').boundingBox();
    await page.screenshot({ path: flowPng, clip: { x: box.x, y: box.y, width: Math.min(box.width, 1470), height: Math.min(box.height, 390) } });

    // The Ovi sidebar with the ring's job and its result (the sidebar shown again for this one).
    await page.evaluate(() => {
      RED.menu.setSelected('menu-item-sidebar', true);
      RED.sidebar.show('ovi');
    });
    await page.locator('#red-ui-sidebar-content video').first().waitFor({ timeout: 20000 });
    await page.waitForTimeout(1500); // the player loads its first frame
    const sidebarPng = path.join(OUT, 'sidebar.png');
    await page.locator('#red-ui-sidebar').screenshot({ path: sidebarPng });
    await page.evaluate(() => RED.menu.setSelected('menu-item-sidebar', false));

    // The ovi submit node's dialog, Core tab.
    await page.setViewportSize({ width: 1500, height: 960 });
    await page.locator(`[id="${SUBMIT}"] rect.red-ui-flow-node`).dblclick();
    await page.locator('#node-dialog-ok').waitFor({ state: 'visible', timeout: 20000 });
    await page.waitForTimeout(800); // the tray slides in
    const dialogPng = path.join(OUT, 'submit-dialog.png');
    await page.locator('.red-ui-tray').last().screenshot({ path: dialogPng });

    for (const f of [flowPng, sidebarPng, dialogPng]) {
      const size = fs.statSync(f).size;
      if (size < 10000) throw new Error(f + ' looks empty (' + size + ' bytes)');
      console.log(path.relative(ROOT, f) + ' (' + Math.round(size / 1024) + ' kB)');
    }
  } finally {
    for (const close of closers.reverse()) await close().catch(() => {});
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
