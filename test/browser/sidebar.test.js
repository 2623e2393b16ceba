'use strict';
// The "Ovi" sidebar tab in a real browser: Debian's Chromium (driven by playwright-core) against a real
// Node-RED 4 with THE PACKED PACKAGE installed in a fresh userDir, adminAuth on (an admin, and a user
// without read permission), and the Runware simulator in-process. Example 01 plus a failing prompt,
// a file-mode ovi poll and a poll with a short deadline; the sidebar shows jobs, results that play,
// failures with their code, and collects a timed-out task through another ovi poll.
// Run alone: npx mocha --no-config --timeout 180000 test/browser/sidebar.test.js
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { CHROMIUM, ARTIFACTS, exampleFlow, startStack, launchBrowser } = require('./support');
const { request } = require('../support/real-node-red');

const ACCOUNT = 'ovi.cfg';

/** Example 01 and, on its tab: a failing prompt, a file-mode branch, a short-deadline branch, a spare ovi poll. */
function flows() {
  const base = exampleFlow('01-text-to-video-poll.json');
  const z = 'tab.example';
  const inject = (id, payload, to, y) => ({
    id,
    type: 'inject',
    z,
    name: id.replace(/^sb\./, ''),
    props: [{ p: 'payload' }],
    repeat: '',
    crontab: '',
    once: false,
    onceDelay: 0.1,
    topic: '',
    payload,
    payloadType: 'str',
    x: 120,
    y,
    wires: [[to]],
  });
  const submit = (id, to, y) => ({
    id,
    type: 'ovi-submit',
    z,
    name: id.replace(/^sb\./, ''),
    config: ACCOUNT,
    delivery: 'poll',
    includeCost: 'true',
    x: 330,
    y,
    wires: [[to]],
  });
  const poll = (id, extra, y) => ({
    id,
    type: 'ovi-poll',
    z,
    name: id.replace(/^sb\./, ''),
    config: ACCOUNT,
    initialDelay: '0.2',
    maxInterval: '0.5',
    x: 520,
    y,
    wires: [[]],
    ...extra,
  });
  return base.concat([
    inject('sb.fail', 'A storm at sea [sim:fail]', 't2v.submit', 400),
    inject('sb.file', 'A lighthouse at dusk', 'sb.file.submit', 460),
    submit('sb.file.submit', 'sb.file.poll', 460),
    poll('sb.file.poll', { output: 'file', filePath: 'ovi-sidebar/{{taskUUID}}-{{index}}.{{ext}}' }, 460),
    inject('sb.slow', 'A slow glacier', 'sb.slow.submit', 520),
    submit('sb.slow.submit', 'sb.slow.poll', 520),
    poll('sb.slow.poll', { timeout: '1' }, 520),
    poll('sb.collector', { name: 'collector', timeout: '120' }, 580),
  ]);
}

function users() {
  const bcrypt = require('bcryptjs');
  return {
    type: 'credentials',
    users: [
      { username: 'admin', password: bcrypt.hashSync('admin-pw', 8), permissions: '*' },
      // may look at the flows, may not read the Ovi sidebar's routes
      { username: 'viewer', password: bcrypt.hashSync('viewer-pw', 8), permissions: ['flows.read'] },
    ],
  };
}

describe('Ovi sidebar in Chromium (real Node-RED 4, packed package, adminAuth, simulator)', function () {
  this.timeout(180000);
  this.slow(30000);

  let stack;
  let browser;
  let page;
  let adminToken;
  let viewerToken;
  const pageErrors = [];
  let logShown = false;

  async function tokenFor(username, password, scope) {
    const r = await request('POST', stack.url + 'auth/token', {
      body: { client_id: 'node-red-admin', grant_type: 'password', scope, username, password },
    });
    assert.strictEqual(r.status, 200, r.body);
    return r.json().access_token;
  }
  const admin = (method, p, opts = {}) =>
    request(method, stack.url + p, { ...opts, headers: { Authorization: 'Bearer ' + adminToken, ...(opts.headers || {}) } });

  async function press(injectId) {
    const r = await admin('POST', 'inject/' + injectId, { body: {} });
    assert.strictEqual(r.status, 200, 'POST /inject/' + injectId + ': ' + r.status + ' ' + r.body);
  }

  async function shot(name) {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page
      .locator('.red-ui-notification')
      .first()
      .waitFor({ state: 'detached', timeout: 15000 })
      .catch(() => {});
    const file = path.join(ARTIFACTS, name + '.png');
    await page.screenshot({ path: file });
    assert.ok(fs.statSync(file).size > 10000, file + ' looks empty');
    return file;
  }

  const account = () => page.locator(`#ovi-sidebar [data-account="${ACCOUNT}"]`);

  /** readyState of the <video> in the result row of a task (0 when there is none yet). */
  function videoReady(taskUUID) {
    return page.waitForFunction(
      (uuid) => {
        const v = document.querySelector(`#ovi-sidebar .ovi-sb-result[data-task="${uuid}"] video`);
        return v && v.readyState >= 2 ? { readyState: v.readyState, src: v.currentSrc, width: v.videoWidth } : null;
      },
      taskUUID,
      { timeout: 30000 },
    );
  }

  /** The taskUUID of the newest result (or failure) row once one appears that was not there before. */
  async function nextRow(kind, before) {
    const handle = await page.waitForFunction(
      ({ kind, before }) => {
        const rows = [...document.querySelectorAll(`#ovi-sidebar .ovi-sb-${kind}`)].map((r) => r.getAttribute('data-task'));
        const fresh = rows.filter((u) => !before.includes(u));
        return fresh.length ? fresh[0] : null;
      },
      { kind, before },
      { timeout: 30000 },
    );
    return handle.jsonValue();
  }
  const rowsOf = (kind) => page.$$eval(`#ovi-sidebar .ovi-sb-${kind}`, (rows) => rows.map((r) => r.getAttribute('data-task')));

  before(async function () {
    if (!fs.existsSync(CHROMIUM)) {
      console.log('    (skipped: ' + CHROMIUM + ' is absent; install it with `apt-get install -y chromium` to run the browser suite)');
      this.skip();
    }
    this.timeout(300000);
    stack = await startStack({ flows: flows(), renderMs: 5000, settings: { adminAuth: users() } });
    stack.sim.configure({ progress: true });
    adminToken = await tokenFor('admin', 'admin-pw', '*');
    viewerToken = await tokenFor('viewer', 'viewer-pw', 'flows.read');
    browser = await launchBrowser();
    page = await browser.context.newPage();
    await page.setViewportSize({ width: 1440, height: 1000 });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // Logged in as admin: the token where the editor keeps it after a login.
    await browser.context.addInitScript((token) => localStorage.setItem('auth-tokens', JSON.stringify({ access_token: token })), adminToken);
    await page.goto(stack.url);
    await page.waitForFunction(() => window.RED && RED.nodes && RED.nodes.node('t2v.submit') && RED.workspaces.active() === 'tab.example', null, {
      timeout: 90000,
    });
    await page.evaluate(() => RED.sidebar.show('ovi'));
    await page.locator('#ovi-sidebar').waitFor({ state: 'visible' });
    await account().waitFor({ timeout: 20000 });
  });

  after(async function () {
    this.timeout(60000);
    if (browser) await browser.close();
    if (stack) await stack.stop();
  });

  afterEach(async function () {
    if (this.currentTest.state === 'failed' && page) {
      await shot('sidebar-failed-' + this.currentTest.title.replace(/[^\w]+/g, '-').slice(0, 50)).catch(() => {});
      if (stack && !logShown) console.log('---- Node-RED log (tail) ----\n' + stack.logs().slice(-3000));
      logShown = true;
    }
  });

  it('has an "Ovi" tab in the sidebar, translated, showing the deployed account and its cost', async () => {
    const tab = await page.evaluate(() => ({ label: $('#red-ui-tab-ovi').text().trim(), menu: $('#menu-item-view-menu-ovi').text().trim() }));
    assert.strictEqual(tab.label, 'Ovi');
    assert.strictEqual(tab.menu, 'Ovi video jobs');
    assert.strictEqual(await account().locator('.ovi-sb-account-cost').textContent(), '$0.00 spent');
    assert.match(await account().locator('.ovi-sb-title-jobs').textContent(), /^In flight: 0 running, 0 queued$/);
    assert.strictEqual(await account().locator('.ovi-sb-jobs').textContent(), 'Nothing in flight.');
  });

  it('lists a job while it renders (node, state, elapsed, progress), then its result with a player that loads the clip', async () => {
    const before = await rowsOf('result');
    await press('t2v.inject');
    const job = account().locator('.ovi-sb-job').first();
    await job.waitFor({ timeout: 15000 });
    const uuid = await job.getAttribute('data-task');
    assert.match(uuid, /^[0-9a-f-]{36}$/);
    // the node link names the ovi poll that claimed it; progress arrives with the simulator's answers
    await page.waitForFunction((u) => {
      const row = document.querySelector(`#ovi-sidebar .ovi-sb-job[data-task="${u}"]`);
      return row && row.querySelector('.ovi-sb-progress-bar') && /rendering/.test(row.textContent);
    }, uuid);
    const shown = await page.evaluate((u) => {
      const row = document.querySelector(`#ovi-sidebar .ovi-sb-job[data-task="${u}"]`);
      return {
        node: row.querySelector('.ovi-sb-node').textContent,
        elapsed: row.querySelector('.ovi-sb-elapsed').textContent,
        uuid: row.querySelector('.ovi-sb-uuid code').textContent,
      };
    }, uuid);
    assert.strictEqual(shown.node, await page.evaluate(() => RED.utils.getNodeLabel(RED.nodes.node('t2v.poll'))));
    assert.match(shown.elapsed, /^\d+:\d\d$/);
    assert.strictEqual(shown.uuid, uuid.slice(0, 8));
    await page.waitForTimeout(1200); // the clock ticks
    assert.notStrictEqual(await job.locator('.ovi-sb-elapsed').textContent(), '0:00');
    await shot('sidebar-running');

    const done = await nextRow('result', before);
    assert.strictEqual(done, uuid);
    const v = await (await videoReady(uuid)).jsonValue();
    assert.ok(v.readyState >= 2, 'the clip loaded');
    assert.ok(v.width > 0, 'frames decoded');
    assert.match(v.src, /^http:\/\/127\.0\.0\.1:\d+\/media\/[0-9a-f-]+\.mp4$/, 'URL mode plays from the videoURL');
    await page.waitForFunction((u) => !document.querySelector(`#ovi-sidebar .ovi-sb-job[data-task="${u}"]`), uuid);
    const facts = await account().locator(`.ovi-sb-result[data-task="${uuid}"]`).textContent();
    assert.match(facts, /seed \d+/);
    assert.match(facts, /\$0\.\d+/, 'its cost');
    assert.match(await account().locator('.ovi-sb-account-cost').textContent(), /^\$0\.\d+ spent$/);
  });

  it('shows a failure with its code and message', async () => {
    const before = await rowsOf('failure');
    await press('sb.fail');
    const uuid = await nextRow('failure', before);
    const row = account().locator(`.ovi-sb-failure[data-task="${uuid}"]`);
    assert.strictEqual(await row.locator('.ovi-sb-code').textContent(), 'provider');
    assert.strictEqual(await row.locator('.ovi-sb-raw').textContent(), 'inferenceError');
    assert.ok((await row.locator('.ovi-sb-message').textContent()).length > 5, 'the message');
  });

  it('plays a file-mode result through the admin route (with the editor token), and reveals its node', async () => {
    const before = await rowsOf('result');
    await press('sb.file');
    const uuid = await nextRow('result', before);
    // the result arrives before its file is written: the row gets the player for the file then
    await page.waitForFunction(
      (u) => {
        const v = document.querySelector(`#ovi-sidebar .ovi-sb-result[data-task="${u}"] video`);
        return v && /\/ovi\/media\//.test(v.currentSrc || v.src);
      },
      uuid,
      { timeout: 30000 },
    );
    const v = await (await videoReady(uuid)).jsonValue();
    assert.ok(v.readyState >= 2);
    const m = /\/ovi\/media\/([A-Za-z0-9_-]{22})\?access_token=/.exec(v.src);
    assert.ok(m, 'served by GET /ovi/media/:id, authorized by the editor token: ' + v.src);
    assert.ok(!v.src.includes('ovi-sidebar%2F') && !v.src.includes(stack.userDir), 'no path in the URL');
    assert.strictEqual(await account().locator(`.ovi-sb-result[data-task="${uuid}"] .ovi-sb-badge`).textContent(), 'file');
    // open the node that owns the job
    await page.evaluate(() => {
      const reveal = RED.view.reveal;
      window.oviRevealed = [];
      RED.view.reveal = function (id) {
        window.oviRevealed.push(id);
        return reveal.apply(this, arguments);
      };
    });
    await account().locator(`.ovi-sb-result[data-task="${uuid}"] .ovi-sb-node`).click();
    assert.deepStrictEqual(await page.evaluate(() => window.oviRevealed), ['sb.file.poll']);
    assert.ok(await page.evaluate(() => !!RED.nodes.node('sb.file.poll').__flashTimer), 'the node flashes on the canvas');
  });

  it('GET /ovi/media/:id: 200 for the admin, 401 without a token or without read permission, 404 for anything not registered', async () => {
    const snap = await admin('GET', 'ovi/jobs');
    assert.strictEqual(snap.status, 200);
    const filed = snap.json().accounts[0].results.filter((r) => r.media);
    assert.ok(filed.length >= 1, 'a file result in the snapshot');
    const id = filed[0].media;
    const ok = await admin('GET', 'ovi/media/' + id);
    assert.strictEqual(ok.status, 200);
    assert.strictEqual(ok.headers['content-type'], 'video/mp4');
    const written = fs.readFileSync(path.join(stack.userDir, 'ovi-sidebar', filed[0].taskUUID + '-0.mp4'));
    assert.ok(ok.buffer.equals(written), 'the bytes of the file the node wrote');
    assert.strictEqual((await request('GET', stack.url + 'ovi/media/' + id)).status, 401, 'no token');
    const viewer = { Authorization: 'Bearer ' + viewerToken };
    assert.strictEqual((await request('GET', stack.url + 'ovi/media/' + id, { headers: viewer })).status, 401, 'no read permission');
    assert.strictEqual((await request('GET', stack.url + 'ovi/jobs', { headers: viewer })).status, 401, 'no read permission: no snapshot');
    assert.strictEqual((await request('GET', stack.url + 'ovi/media/' + id + '?access_token=' + viewerToken)).status, 401, 'nor by query token');
    for (const p of [
      'ovi/media/AAAAAAAAAAAAAAAAAAAAAA',
      'ovi/media/' + encodeURIComponent(path.join(stack.userDir, 'flows.json')),
      'ovi/media/..%2F..%2Fflows.json',
      'ovi/media/%2e%2e%2fsettings.js',
      'ovi/media/' + id + '%2F..%2F..%2Fsettings.js',
      'ovi/media/' + id.slice(1),
    ]) {
      const r = await admin('GET', p);
      assert.strictEqual(r.status, 404, p + ' answered ' + r.status);
    }
    const dots = await admin('GET', 'ovi/media/../../settings.js');
    assert.ok(!/credentialSecret/.test(dots.body), 'no file outside the registry');
  });

  it('collects a timed-out task through the ovi poll picked in the sidebar, then shows its result', async () => {
    const before = await rowsOf('failure');
    await press('sb.slow');
    const uuid = await nextRow('failure', before);
    const row = account().locator(`.ovi-sb-failure[data-task="${uuid}"]`);
    assert.strictEqual(await row.locator('.ovi-sb-code').textContent(), 'timeout');
    await row.locator('.ovi-sb-collect-this').click();
    const form = account().locator('.ovi-sb-collect');
    await form.waitFor({ state: 'visible' });
    assert.strictEqual(await form.locator('.ovi-sb-collect-uuid').inputValue(), uuid);
    await form.locator('select').selectOption('sb.collector');
    const results = await rowsOf('result');
    await form.locator('.ovi-sb-collect-go').click();
    await page.waitForFunction(() => /Sent to collector/.test($('#ovi-sidebar .ovi-sb-collect-result').text()));
    // in flight again, now owned by the chosen poll
    await page.waitForFunction(
      (u) => {
        const j = document.querySelector(`#ovi-sidebar .ovi-sb-job[data-task="${u}"]`);
        return j && j.querySelector('.ovi-sb-node').textContent === 'collector';
      },
      uuid,
      { timeout: 10000 },
    );
    // a second collect while it is in flight is refused, and says why
    await form.locator('.ovi-sb-collect-go').click();
    await page.waitForFunction(() => /Not collected: .*in flight/.test($('#ovi-sidebar .ovi-sb-collect-result').text()));
    const got = await nextRow(
      'result',
      results.filter((u) => u !== uuid),
    );
    assert.strictEqual(got, uuid);
    assert.strictEqual(await account().locator(`.ovi-sb-result[data-task="${uuid}"] .ovi-sb-node`).textContent(), 'collector');
    await videoReady(uuid);
  });

  it('a freshly opened editor shows the same state (snapshot), and the screenshot with results is saved', async () => {
    const seen = await page.evaluate(() => ({
      results: [...document.querySelectorAll('#ovi-sidebar .ovi-sb-result')].map((r) => r.getAttribute('data-key')),
      failures: [...document.querySelectorAll('#ovi-sidebar .ovi-sb-failure')].map((r) => r.getAttribute('data-key')),
    }));
    const other = await browser.context.newPage();
    try {
      await other.setViewportSize({ width: 1440, height: 1000 });
      await other.goto(stack.url);
      await other.waitForFunction(() => window.RED && RED.nodes && RED.nodes.node('t2v.submit'), null, { timeout: 90000 });
      await other.evaluate(() => RED.sidebar.show('ovi'));
      await other.waitForFunction((n) => document.querySelectorAll('#ovi-sidebar .ovi-sb-result').length === n, seen.results.length);
      const again = await other.evaluate(() => ({
        results: [...document.querySelectorAll('#ovi-sidebar .ovi-sb-result')].map((r) => r.getAttribute('data-key')),
        failures: [...document.querySelectorAll('#ovi-sidebar .ovi-sb-failure')].map((r) => r.getAttribute('data-key')),
      }));
      assert.deepStrictEqual(again, seen);
    } finally {
      await other.close();
    }
    await account().locator('.ovi-sb-collect-open').click(); // close the collect form
    await page.evaluate(() => $('#ovi-sidebar').scrollTop(0));
    await shot('sidebar-results');
    // Node-RED's dark themes set its CSS variables: the sidebar uses only those
    await page.evaluate(() => {
      const s = document.createElement('style');
      s.id = 'ovi-test-dark';
      s.textContent =
        ':root{--red-ui-primary-background:#1e1e1e;--red-ui-secondary-background:#252526;--red-ui-tertiary-background:#2d2d2d;' +
        '--red-ui-palette-header-background:#333;--red-ui-primary-text-color:#ddd;--red-ui-secondary-text-color:#aaa;--red-ui-text-color-link:#8cf;' +
        '--red-ui-secondary-border-color:#444;--red-ui-tertiary-border-color:#3a3a3a;--red-ui-text-color-error:#f77;--red-ui-text-color-code:#e9a}';
      document.head.appendChild(s);
    });
    await shot('sidebar-results-dark-variables');
    await page.evaluate(() => document.getElementById('ovi-test-dark').remove());
  });

  it('in German (editor language de) the sidebar speaks locales/de', async () => {
    const de = JSON.parse(
      fs.readFileSync(path.join(stack.userDir, 'node_modules', 'node-red-contrib-runware-ovi', 'dist', 'nodes', 'locales', 'de', 'ovi-config.json'), 'utf8'),
    ).sidebar;
    const other = await browser.context.newPage();
    try {
      await other.addInitScript(() => localStorage.setItem('editor-language', 'de'));
      await other.goto(stack.url);
      await other.waitForFunction(() => window.RED && RED.nodes && RED.nodes.node('t2v.submit'), null, { timeout: 90000 });
      await other.evaluate(() => RED.sidebar.show('ovi'));
      await other.locator(`#ovi-sidebar [data-account="${ACCOUNT}"] .ovi-sb-title-results`).waitFor();
      const texts = await other.evaluate(() => ({
        menu: $('#menu-item-view-menu-ovi').text().trim(),
        results: $('#ovi-sidebar .ovi-sb-title-results').first().text(),
        failures: $('#ovi-sidebar .ovi-sb-title-failures').first().text(),
        idle: $('#ovi-sidebar .ovi-sb-jobs').first().text(),
      }));
      assert.deepStrictEqual(texts, { menu: de.name, results: de.results, failures: de.failures, idle: de.idle });
    } finally {
      await other.close();
    }
  });

  it('no errors in the page', () => {
    assert.deepStrictEqual(pageErrors, []);
  });
});
