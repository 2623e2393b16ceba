'use strict';
// The editor in a real browser: Debian's Chromium (driven by playwright-core) against a real Node-RED 4
// with THE PACKED PACKAGE installed in a fresh userDir, and the Runware simulator in-process.
// Run alone: npx mocha --no-config --timeout 120000 test/browser/editor.test.js
// Skips only when /usr/bin/chromium is absent (CI installs it: apt-get install -y chromium).
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { CHROMIUM, ARTIFACTS, exampleFlow, startStack, launchBrowser, get } = require('./support');

const SUBMIT_TABS = ['core', 'advanced', 'accelerator', 'delivery'];

describe('editor in Chromium (real Node-RED 4, packed package, simulator)', function () {
  this.timeout(180000);
  this.slow(30000);

  let stack; // {url, sim, userDir, logs, stop}
  let browser;
  let page;
  let installed; // the package as installed in the userDir
  let en; // its en-US catalogs
  const pageErrors = [];
  let logShown = false;
  const dropped = {}; // type → id of the node dragged from the palette

  function catalog(lang, set) {
    return JSON.parse(fs.readFileSync(path.join(installed, 'dist', 'nodes', 'locales', lang, set + '.json'), 'utf8'));
  }
  /** en-US text with __x__ substitutions, as node._() does. */
  function t(cat, key, subs = {}) {
    const text = key.split('.').reduce((o, k) => o[k], cat);
    assert.strictEqual(typeof text, 'string', 'no catalog key ' + key);
    return text.replace(/__(\w+)__/g, (m, k) => (k in subs ? subs[k] : m));
  }
  async function shot(name) {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    // no "Successfully deployed" toast over the dialog; the flow in view
    await page
      .locator('.red-ui-notification')
      .first()
      .waitFor({ state: 'detached', timeout: 15000 })
      .catch(() => {});
    await page.evaluate(() => $('#red-ui-workspace-chart').scrollTop(0).scrollLeft(0));
    const file = path.join(ARTIFACTS, name + '.png');
    await page.screenshot({ path: file });
    assert.ok(fs.statSync(file).size > 10000, file + ' looks empty');
    return file;
  }

  /* ---------------------------------------------------------------- editor helpers */

  async function openEditor() {
    await page.goto(stack.url);
    await page.locator('#red-ui-palette-runware .red-ui-palette-node[data-palette-type="ovi-submit"]').waitFor({ timeout: 90000 });
    await page.waitForFunction(() => window.RED && RED.nodes && RED.nodes.node('t2v.submit') && RED.workspaces.active() === 'tab.example');
  }
  function nodeOnCanvas(id) {
    return page.locator(`[id="${id}"] rect.red-ui-flow-node`);
  }
  async function openNode(id) {
    // Under full-suite load a double-click right after the previous tray closed can be swallowed:
    // double-click again (what a user does), up to three times.
    for (let attempt = 1; ; attempt++) {
      await nodeOnCanvas(id).dblclick();
      try {
        await page.locator('#node-dialog-ok').waitFor({ state: 'visible', timeout: 8000 });
        break;
      } catch (e) {
        if (attempt >= 3) throw e;
      }
    }
    await page.locator('.red-ui-tray').last().waitFor({ state: 'visible' });
    await page.waitForTimeout(400); // the tray slides in; the form is built by then
  }
  async function closeNode(button = 'ok') {
    await page.click('#node-dialog-' + button);
    await page.locator('#node-dialog-ok').waitFor({ state: 'detached' });
  }
  async function closeConfig(button = 'cancel') {
    await page.click('#node-config-dialog-' + button);
    await page.locator('#node-config-dialog-ok').waitFor({ state: 'detached' });
  }
  async function nodeState(id) {
    return page.evaluate((id) => {
      const n = RED.nodes.node(id);
      const badge = document.querySelector(`[id="${id}"] > g.red-ui-flow-node-error`);
      return { valid: n.valid, errors: n.validationErrors || [], triangle: !!badge && !badge.classList.contains('hide') };
    }, id);
  }
  /** A real mouse drag from the palette onto the workspace; returns the new node's id. */
  async function dragFromPalette(type, dx, dy) {
    const item = page.locator(`#red-ui-palette-runware .red-ui-palette-node[data-palette-type="${type}"]`);
    await item.scrollIntoViewIfNeeded();
    const from = await item.boundingBox();
    const chart = await page.locator('#red-ui-workspace-chart').boundingBox();
    const before = await page.evaluate((type) => RED.nodes.filterNodes({ type }).map((n) => n.id), type);
    await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
    await page.mouse.down();
    await page.mouse.move(from.x + from.width / 2 + 30, from.y + from.height / 2 + 5, { steps: 5 });
    await page.mouse.move(chart.x + dx, chart.y + dy, { steps: 25 });
    await page.mouse.up();
    const handle = await page.waitForFunction(
      ({ type, before }) => {
        const added = RED.nodes.filterNodes({ type }).filter((n) => !before.includes(n.id));
        return added.length === 1 ? added[0].id : null;
      },
      { type, before },
    );
    return handle.jsonValue();
  }
  async function tabLabels() {
    return page.$$eval('#ovi-submit-tabs li', (lis) => lis.filter((li) => li.offsetParent !== null).map((li) => li.textContent.trim()));
  }
  async function showTab(group) {
    // RED.tabs takes two clicks within 400 ms as a double click: pause like a person would
    await page.waitForTimeout(450);
    await page.click(`#ovi-submit-tabs a[href="#ovi-submit-tab-${group}"]`);
    await page.locator(`#ovi-submit-tab-${group}`).waitFor({ state: 'visible' });
  }
  /** Type into an input the way a user does (select all, type), so input/change events fire. */
  async function typeInto(selector, text) {
    const el = page.locator(selector);
    await el.click({ clickCount: 3 });
    await el.press('ControlOrMeta+a');
    if (text === '') await el.press('Backspace');
    else await el.pressSequentially(text);
    await el.dispatchEvent('change');
  }

  /* ---------------------------------------------------------------- lifecycle */

  before(async function () {
    if (!fs.existsSync(CHROMIUM)) {
      console.log('    (skipped: ' + CHROMIUM + ' is absent; install it with `apt-get install -y chromium` to run the browser suite)');
      this.skip();
    }
    this.timeout(300000);
    stack = await startStack({ flows: exampleFlow('01-text-to-video-poll.json'), renderMs: 1500 });
    installed = path.join(stack.userDir, 'node_modules', 'node-red-contrib-runware-ovi');
    en = { submit: catalog('en-US', 'ovi-submit'), config: catalog('en-US', 'ovi-config'), poll: catalog('en-US', 'ovi-poll') };
    browser = await launchBrowser();
    page = await browser.context.newPage();
    await page.setViewportSize({ width: 1440, height: 1200 });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('dialog', (d) => d.accept().catch(() => {}));
    await openEditor();
  });

  after(async function () {
    this.timeout(60000);
    if (browser) await browser.close();
    if (stack) await stack.stop();
  });

  beforeEach(async function () {
    // a test that failed half-way may have left dialogs open: close them (without saving)
    if (!page) return;
    for (const sel of ['#node-config-dialog-cancel', '#node-dialog-cancel']) {
      if (
        await page
          .locator(sel)
          .isVisible()
          .catch(() => false)
      ) {
        await page.click(sel);
        await page
          .locator(sel)
          .waitFor({ state: 'detached' })
          .catch(() => {});
      }
    }
  });

  afterEach(async function () {
    if (this.currentTest.state === 'failed' && page) {
      await shot('failed-' + this.currentTest.title.replace(/[^\w]+/g, '-').slice(0, 60)).catch(() => {});
      if (stack && !logShown) console.log('---- Node-RED log (tail) ----\n' + stack.logs().slice(-3000));
      logShown = true;
    }
  });

  /* ---------------------------------------------------------------- tests */

  it('the palette shows ovi submit, ovi poll and ovi webhook under Runware with their icons; ovi-config is a config node', async function () {
    const header = (await page.locator('#red-ui-palette-header-runware').textContent()).trim();
    assert.strictEqual(header, t(en.submit, 'palette.label.runware'));
    const items = await page.$$eval('#red-ui-palette-runware .red-ui-palette-node', (els) =>
      els.map((el) => ({
        type: el.getAttribute('data-palette-type'),
        label: el.querySelector('.red-ui-palette-label').textContent.replace(/\s+/g, ' ').trim(),
        icon: (el.querySelector('.red-ui-palette-icon') || {}).style.backgroundImage || '',
      })),
    );
    assert.deepStrictEqual(items.map((i) => i.type).sort(), ['ovi-poll', 'ovi-submit', 'ovi-webhook']);
    const want = { 'ovi-submit': 'ovi.svg', 'ovi-poll': 'ovi.svg', 'ovi-webhook': 'ovi-webhook.svg' };
    for (const item of items) {
      assert.strictEqual(item.label, item.type.replace('-', ' '));
      const m = /url\("?([^")]+)"?\)/.exec(item.icon);
      assert.ok(m, item.type + ' has no palette icon: ' + item.icon);
      assert.strictEqual(m[1], 'icons/node-red-contrib-runware-ovi/' + want[item.type]);
      const res = await get(new URL(m[1], stack.url).href);
      assert.strictEqual(res.status, 200, m[1]);
      assert.match(res.headers['content-type'], /image\/svg\+xml/);
      assert.match(res.body, /<svg[\s>]/);
    }
    const def = await page.evaluate(() => {
      const d = RED.nodes.getType('ovi-config');
      return d && { category: d.category, inPalette: !!document.querySelector('.red-ui-palette-node[data-palette-type="ovi-config"]') };
    });
    assert.deepStrictEqual(def, { category: 'config', inPalette: false });
    // the example's account is listed among the configuration nodes
    await page.evaluate(() => RED.sidebar.config.show());
    await page.locator('#red-ui-sidebar-config-category-global').waitFor();
    const configs = await page.evaluate(() =>
      $('#red-ui-sidebar-config-category-global .red-ui-palette-node-config')
        .map(function () {
          return $(this).parent().data('data-node-id');
        })
        .get(),
    );
    assert.ok(configs.includes('ovi.cfg'), 'ovi.cfg is not in the configuration nodes sidebar: ' + configs);
  });

  it('the palette search finds the nodes by "video" and "runware", words users search for', async function () {
    const visible = () =>
      page.$$eval('#red-ui-palette-container .red-ui-palette-node', (els) =>
        els
          .filter((el) => el.offsetParent !== null)
          .map((el) => el.getAttribute('data-palette-type'))
          .sort(),
      );
    for (const word of ['video', 'Runware']) {
      await typeInto('#red-ui-palette-search input', word);
      await page.waitForTimeout(400); // the search box filters after a short pause
      const found = await visible();
      for (const type of ['ovi-poll', 'ovi-submit', 'ovi-webhook']) assert.ok(found.includes(type), word + ' does not find ' + type + ': ' + found);
    }
    await typeInto('#red-ui-palette-search input', '');
    await page.waitForTimeout(400);
  });

  it('dragging ovi submit from the palette onto the workspace and opening it shows the tabs Core, Advanced, Accelerator, Delivery', async function () {
    const id = await dragFromPalette('ovi-submit', 420, 420);
    dropped['ovi-submit'] = id;
    await nodeOnCanvas(id).waitFor({ state: 'visible' });
    await openNode(id);
    const want = SUBMIT_TABS.map((g) => t(en.submit, 'ovi-submit.tabs.' + g));
    assert.deepStrictEqual(want, ['Core', 'Advanced', 'Accelerator', 'Delivery']);
    assert.deepStrictEqual(await tabLabels(), want);
    for (const g of SUBMIT_TABS) {
      await showTab(g);
      for (const other of SUBMIT_TABS.filter((o) => o !== g)) assert.strictEqual(await page.locator('#ovi-submit-tab-' + other).isVisible(), false);
    }
    await showTab('core');
    // a new node has no account yet: choose the example's (as a user does)
    await page.selectOption('#node-input-config', 'ovi.cfg');
    await closeNode('ok');
    assert.deepStrictEqual(await nodeState(id), { valid: true, errors: [], triangle: false });
  });

  it("an out-of-range value is marked invalid with the schema's own message, and the node shows the invalid triangle until it is fixed", async function () {
    const id = dropped['ovi-submit'];
    const { checkFieldValue, setFieldLabels, labelKey } = require(path.join(installed, 'dist', 'nodes', 'lib', 'field-check.js'));
    setFieldLabels((p) => en.submit['ovi-submit'].label[labelKey(p)]); // the editor's words (English here)
    const { editorMetadata } = require(path.join(installed, 'dist', 'nodes', 'lib', 'task-schema.js'));
    const fields = editorMetadata().fields;
    const cases = [
      { tab: 'core', path: 'steps', input: '#node-input-ovi-steps', bad: 500, good: 30 },
      { tab: 'advanced', path: 'advancedFeatures.videoCFGScale', input: '#node-input-ovi-advancedFeatures-videoCFGScale', bad: 12, good: 6.5 },
    ];
    for (const c of cases) {
      const expected = checkFieldValue(
        fields.find((f) => f.path === c.path),
        c.bad,
      );
      assert.ok(expected, c.path + ' = ' + c.bad + ' should be out of range');
      c.expected = expected;
    }
    assert.strictEqual(cases[0].expected, 'Steps (steps) must be an integer between 1 and 100, got 500');

    await openNode(id);
    for (const c of cases) {
      await showTab(c.tab);
      await typeInto(c.input, String(c.bad));
      const row = page.locator(c.input).locator('xpath=ancestor::div[contains(@class,"form-row")][1]');
      await page.waitForFunction((sel) => document.querySelector(sel).classList.contains('input-error'), c.input);
      assert.strictEqual((await row.locator('.ovi-field-error').textContent()).trim(), c.expected);
      assert.strictEqual(await row.locator('.ovi-field-error').isVisible(), true);
      // the tab is flagged, and the preview lists the issue
      assert.strictEqual(await page.locator(`#ovi-submit-tabs a[href="#ovi-submit-tab-${c.tab}"].ovi-tab-invalid`).count(), 1);
      assert.ok((await page.locator('#ovi-submit-preview-issues li').allTextContents()).includes(c.expected));
    }
    await closeNode('ok');
    let state = await nodeState(id);
    assert.strictEqual(state.valid, false);
    assert.strictEqual(state.triangle, true, 'no invalid triangle on the canvas');
    assert.ok(state.errors.length > 0);

    await openNode(id);
    for (const c of cases) {
      await showTab(c.tab);
      assert.ok(await page.locator(c.input).evaluate((el) => el.classList.contains('input-error')), c.path + ' should still be marked when reopened');
      await typeInto(c.input, String(c.good));
      const row = page.locator(c.input).locator('xpath=ancestor::div[contains(@class,"form-row")][1]');
      await page.waitForFunction((sel) => !document.querySelector(sel).classList.contains('input-error'), c.input);
      assert.strictEqual(await row.locator('.ovi-field-error').isVisible(), false);
      assert.strictEqual(await page.locator(`#ovi-submit-tabs a[href="#ovi-submit-tab-${c.tab}"].ovi-tab-invalid`).count(), 0);
    }
    assert.deepStrictEqual(await page.locator('#ovi-submit-preview-issues li').allTextContents(), []);
    await closeNode('ok');
    state = await nodeState(id);
    assert.deepStrictEqual(state, { valid: true, errors: [], triangle: false });
    const stored = await page.evaluate((id) => ({ steps: RED.nodes.node(id).steps, af: RED.nodes.node(id).advancedFeatures }), id);
    assert.deepStrictEqual(stored, { steps: 30, af: { videoCFGScale: 6.5 } });
  });

  it('the request preview shows the exact task JSON for the fields set', async function () {
    const id = dropped['ovi-submit'];
    await openNode(id);
    await showTab('core');
    // the prompt as text typed in the node (typed input → "text (below)")
    await page.locator('#node-input-ovi-prompt').locator('xpath=..').locator('button.red-ui-typedInput-type-select').click();
    await page.locator('.red-ui-typedInput-options:visible a[value="str"]').click();
    await page.locator('#node-input-ovi-prompt-text').waitFor({ state: 'visible' });
    const prompt = 'A lighthouse keeper waves from the balcony';
    await typeInto('#node-input-ovi-prompt-text', prompt);
    await typeInto('#node-input-ovi-numberResults', '2');
    await typeInto('#node-input-ovi-seed', '9007199254740993'); // above 2^53: must stay exact
    await showTab('advanced');
    await typeInto('#node-input-ovi-advancedFeatures-audioNegativePrompt', 'music');
    await page.selectOption('#node-input-ovi-safety-checkContent', 'true');
    await showTab('delivery');
    await page.selectOption('#node-input-ovi-outputFormat', 'WEBM');

    const text = await page.locator('#ovi-submit-preview-json').textContent();
    assert.match(text, /"seed": 9007199254740993\b/, 'the seed is sent as the exact JSON number');
    const preview = JSON.parse(text.replace(/"seed": (\d+)/, '"seed": "$1"'));
    assert.deepStrictEqual(preview, {
      taskType: 'videoInference',
      taskUUID: t(en.submit, 'ovi-submit.preview.generated'),
      model: 'runware:190@1',
      positivePrompt: prompt,
      inputs: { image: t(en.submit, 'ovi-submit.preview.fromIfPresent', { source: 'msg.image' }) },
      numberResults: 2,
      seed: '9007199254740993',
      steps: 30,
      advancedFeatures: { videoCFGScale: 6.5, audioNegativePrompt: 'music' },
      safety: { checkContent: true },
      outputFormat: 'WEBM',
      deliveryMethod: 'async',
    });
    assert.deepStrictEqual(await page.locator('#ovi-submit-preview-issues li').allTextContents(), []);
    await closeNode('ok');
    const stored = await page.evaluate((id) => {
      const n = RED.nodes.node(id);
      return {
        positivePrompt: n.positivePrompt,
        positivePromptType: n.positivePromptType,
        numberResults: n.numberResults,
        seed: n.seed,
        safety: n.safety,
        outputFormat: n.outputFormat,
        valid: n.valid,
      };
    }, id);
    assert.deepStrictEqual(stored, {
      positivePrompt: prompt,
      positivePromptType: 'str',
      numberResults: 2,
      seed: '9007199254740993',
      safety: { checkContent: true },
      outputFormat: 'WEBM',
      valid: true,
    });
  });

  it('the prompt helper writes <S>…<E> and <AUDCAP>…<ENDAUDCAP> into the prompt', async function () {
    const id = dropped['ovi-submit'];
    await openNode(id);
    const before = await page.locator('#node-input-ovi-prompt-text').inputValue();
    assert.ok(before.length > 0, 'the previous test typed a prompt');
    // the caret at the end, as after typing
    await page.locator('#node-input-ovi-prompt-text').evaluate((el) => el.setSelectionRange(el.value.length, el.value.length));
    await typeInto('#ovi-submit-helper-speech', 'Welcome aboard.');
    await page.click('#ovi-submit-helper-speech-btn');
    await typeInto('#ovi-submit-helper-audio', 'Seagulls, waves on rocks');
    await page.locator('#ovi-submit-helper-audio').press('Enter'); // Enter works as the button
    const after = await page.locator('#node-input-ovi-prompt-text').inputValue();
    assert.strictEqual(after, before + ' <S>Welcome aboard.<E> <AUDCAP>Seagulls, waves on rocks<ENDAUDCAP>');
    assert.strictEqual(await page.locator('#ovi-submit-helper-speech').inputValue(), '');
    assert.strictEqual((await page.locator('#ovi-submit-prompt-warnings').textContent()).trim(), '', 'balanced tags: no warning');
    const preview = JSON.parse((await page.locator('#ovi-submit-preview-json').textContent()).replace(/"seed": (\d+)/, '"seed": "$1"'));
    assert.strictEqual(preview.positivePrompt, after);
    // a misspelled tag is flagged
    await page.locator('#node-input-ovi-prompt-text').evaluate((el) => {
      el.value += ' <s>oops';
      $(el).trigger('input');
    });
    assert.match(await page.locator('#ovi-submit-prompt-warnings').textContent(), /<s> is not an Ovi tag: did you mean <S>\?/);
    await closeNode('ok');
    const stored = await page.evaluate((id) => ({ p: RED.nodes.node(id).positivePrompt, type: RED.nodes.node(id).positivePromptType }), id);
    assert.deepStrictEqual(stored, { p: after + ' <s>oops', type: 'str' });
  });

  it('Test connection says ok for the simulator\'s key and "invalid key" for a wrong one', async function () {
    await openNode('t2v.poll');
    await page.click('#node-input-btn-config-edit');
    await page.locator('#node-config-input-apiKey').waitFor({ state: 'visible' });
    await page.waitForTimeout(300);
    const result = page.locator('#ovi-config-test-result');
    const seen = () => stack.sim.requests().length;

    let mark = seen();
    await typeInto('#node-config-input-apiKey', 'not-the-right-key');
    await page.click('#ovi-config-test');
    await page.locator('#ovi-config-test-result.ovi-bad').waitFor({ timeout: 30000 });
    assert.ok((await result.textContent()).trim().startsWith(t(en.config, 'ovi-config.test.invalidKey')), await result.textContent());
    // the simulator saw it and refused it: the test really went there
    assert.ok(
      stack.sim
        .requests()
        .slice(mark)
        .some((r) => r.status === 401 || r.status === 403),
      'no refused request at the simulator',
    );

    mark = seen();
    await typeInto('#node-config-input-apiKey', stack.key);
    await page.click('#ovi-config-test');
    await page.locator('#ovi-config-test-result.ovi-ok').waitFor({ timeout: 30000 });
    assert.strictEqual((await result.textContent()).trim(), t(en.config, 'ovi-config.test.ok'));
    assert.ok(
      stack.sim
        .requests()
        .slice(mark)
        .some((r) => r.status >= 200 && r.status < 500 && r.status !== 401 && r.status !== 403),
      'no accepted request at the simulator',
    );

    // the cost line answers (a number once counted, or "nothing yet"), never "not available"
    await page.waitForFunction(() => {
      const el = document.getElementById('ovi-config-cost');
      return el && el.textContent && el.textContent !== '…';
    });
    const cost = (await page.locator('#ovi-config-cost').textContent()).trim();
    assert.ok(/^\$\d/.test(cost) || cost === t(en.config, 'ovi-config.cost.none'), 'cost so far: ' + cost);
    await closeConfig('cancel');
    await closeNode('cancel');
  });

  it('the deployed example flow: clicking its inject shows a result with a videoURL in the debug sidebar', async function () {
    await page.click('#red-ui-header-button-deploy');
    await page.waitForFunction(() => !RED.nodes.dirty(), null, { timeout: 30000 });
    await page.evaluate(() => RED.sidebar.show('debug'));
    await page.locator('#red-ui-sidebar-content .red-ui-debug-content').first().waitFor({ state: 'attached' });
    await page.locator('[id="t2v.inject"] .red-ui-flow-node-button-button').click();
    const msg = page.locator('.red-ui-debug-msg.red-ui-debug-msg-node-t2v_debug').first();
    await msg.waitFor({ timeout: 90000 });
    assert.match(await msg.locator('.red-ui-debug-msg-topic').textContent(), /^fox : msg\.payload : Object$/);
    await msg.locator('.red-ui-debug-msg-object-handle').first().click();
    const entries = await msg.evaluate((el) => {
      const out = {};
      el.querySelectorAll('.red-ui-debug-msg-object-entry, .red-ui-debug-msg-element').forEach((row) => {
        const key = row.querySelector(':scope > .red-ui-debug-msg-row > .red-ui-debug-msg-object-key, :scope > .red-ui-debug-msg-object-key');
        const val = row.querySelector(':scope > .red-ui-debug-msg-row > .red-ui-debug-msg-object-value, :scope > .red-ui-debug-msg-object-value');
        if (key && val) out[key.textContent.trim()] = val.textContent.trim();
      });
      return out;
    });
    assert.ok(entries.videoURL, 'no videoURL row in the expanded debug message: ' + JSON.stringify(entries));
    const url = JSON.parse(entries.videoURL);
    assert.ok(url.startsWith(stack.sim.url.replace(/\/v1\/?$/, '')), url + " is not the simulator's");
    assert.match(JSON.parse(entries.taskUUID), /^[0-9a-f-]{36}$/);
    assert.strictEqual(await page.locator('.red-ui-debug-msg-node-t2v_err').count(), 0, 'the Catch path reported a failure');
    const res = await get(url);
    assert.strictEqual(res.status, 200, 'the videoURL answers');
    await shot('debug-result');
  });

  it('screenshots: each ovi submit tab, the config, poll and webhook dialogs', async function () {
    await page.evaluate(() => RED.sidebar.show('info'));
    await openNode(dropped['ovi-submit']);
    for (const g of SUBMIT_TABS) {
      await showTab(g);
      await shot('ovi-submit-' + g);
    }
    await closeNode('cancel');

    await openNode('t2v.poll');
    await page.selectOption('#node-input-output', 'file');
    await typeInto('#node-input-ovi-retentionDays', '7');
    assert.strictEqual(await page.locator('#node-input-filePath').inputValue(), 'ovi/{{taskUUID}}-{{index}}.{{ext}}');
    assert.match(await page.locator('#ovi-output-warnings').textContent(), /older than 7 days in ovi\//);
    await shot('ovi-poll');
    await page.click('#node-input-btn-config-edit');
    await page.locator('#node-config-input-apiKey').waitFor({ state: 'visible' });
    await page.waitForTimeout(500);
    await shot('ovi-config');
    await closeConfig('cancel');
    await closeNode('cancel');

    const hook = await dragFromPalette('ovi-webhook', 420, 520);
    dropped['ovi-webhook'] = hook;
    await openNode(hook);
    await page.selectOption('#node-input-config', 'ovi.cfg');
    await page.selectOption('#node-input-output', 'buffer');
    assert.match(await page.locator('#ovi-webhook-url').textContent(), /\/ovi\/results\?token=[0-9a-f]{64}$/);
    await shot('ovi-webhook');
    await closeNode('ok');
    assert.deepStrictEqual(await nodeState(hook), { valid: true, errors: [], triangle: false });
    // the output settings are stored as the runtime reads them: numbers as numbers, bytes in bytes
    const out = await page.evaluate((id) => {
      const n = RED.nodes.node(id);
      return {
        output: n.output,
        filePath: n.filePath,
        maxBytes: n.maxBytes,
        downloadTimeout: n.downloadTimeout,
        retentionDays: n.retentionDays,
        label: RED.utils.getNodeLabel(n),
      };
    }, hook);
    assert.deepStrictEqual(out, {
      output: 'buffer',
      filePath: 'ovi/{{taskUUID}}-{{index}}.{{ext}}',
      maxBytes: 52428800,
      downloadTimeout: 120,
      retentionDays: 0,
      label: 'ovi webhook /ovi/results',
    });
    for (const f of ['ovi-submit-core', 'ovi-submit-advanced', 'ovi-submit-accelerator', 'ovi-submit-delivery', 'ovi-config', 'ovi-poll', 'ovi-webhook']) {
      assert.ok(fs.existsSync(path.join(ARTIFACTS, f + '.png')), f);
    }
  });

  it('foreign flows (hand-written minimal nodes, a flow saved by 0.1.0, a hand-written webhook flow) import and show valid', async function () {
    const dir = path.join(__dirname, '..', 'fixtures', 'foreign-flows');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
    const nodes = files.flatMap((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
    const states = await page.evaluate((nodes) => {
      RED.nodes.import(nodes);
      return nodes
        .filter((n) => /^ovi-/.test(n.type))
        .map((n) => {
          const node = RED.nodes.node(n.id);
          if (node && node.type !== 'ovi-config') RED.editor.validateNode(node);
          return { id: n.id, type: n.type, found: !!node, valid: node ? node.valid : null, errors: node ? node.validationErrors || [] : null };
        });
    }, nodes);
    assert.ok(states.length >= 9, JSON.stringify(states));
    for (const s of states) assert.ok(s.found && s.valid !== false, s.id + ' (' + s.type + ') shows invalid: ' + JSON.stringify(s.errors));
    // Opening an old node's dialog reads its typeless prompt as text, as the runtime does.
    await page.evaluate(() => RED.workspaces.show('ff.old.tab'));
    await openNode('ff.old.submit');
    assert.strictEqual(await page.$eval('#node-input-ovi-prompt-type', (e) => e.value), 'str');
    assert.match(await page.$eval('#node-input-ovi-prompt-text', (e) => e.value), /A lighthouse at dusk/);
    await closeNode('cancel');
    await openEditor(); // drop the imports (never deployed)
  });

  it('in German (editor language de) our nodes show the labels of locales/de', async function () {
    const de = catalog('de', 'ovi-submit');
    await page.click('#red-ui-header-button-deploy'); // nothing unsaved: no "leave page?" question
    await page.waitForFunction(() => !RED.nodes.dirty(), null, { timeout: 30000 });
    await page.evaluate(() => localStorage.setItem('editor-language', 'de'));
    try {
      await openEditor();
      assert.strictEqual(await page.evaluate(() => RED.i18n.lang()), 'de');
      await openNode('t2v.submit');
      const want = SUBMIT_TABS.map((g) => t(de, 'ovi-submit.tabs.' + g));
      assert.deepStrictEqual(want, ['Basis', 'Erweitert', 'Beschleuniger', 'Zustellung']);
      assert.deepStrictEqual(await tabLabels(), want);
      assert.strictEqual((await page.locator('label[for="node-input-ovi-steps"] span').textContent()).trim(), t(de, 'ovi-submit.label.steps'));
      assert.strictEqual((await page.locator('#ovi-submit-helper-speech-btn').textContent()).trim(), t(de, 'ovi-submit.prompt.insertSpeech'));
      assert.notStrictEqual(t(de, 'ovi-submit.label.steps'), t(en.submit, 'ovi-submit.label.steps'));
      await shot('ovi-submit-core-de');
      // the help in the info sidebar is the German page
      await page.evaluate(() => RED.sidebar.help.show('ovi-submit'));
      await page.waitForFunction(() => /Sendet pro Nachricht einen Video-Task/.test(document.getElementById('red-ui-sidebar-content').textContent), null, {
        timeout: 20000,
      });
      await closeNode('cancel');
    } finally {
      await page.evaluate(() => localStorage.removeItem('editor-language'));
    }
  });

  it('the browser saw no uncaught errors', function () {
    assert.deepStrictEqual(pageErrors, []);
  });
});
