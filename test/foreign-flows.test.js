'use strict';
// Flows our editor did not draw (test/fixtures/foreign-flows/): hand-written minimal nodes, a flow as
// 0.1.0 saved it, a webhook flow written by hand. Deployed through the admin API into a real Node-RED
// with the packed package, run against the simulator: each must give its clip, without a warning
// about invalid properties. (The browser suite imports the same files and checks they show valid.)
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { useRealNodeRed, request, deploy, sleep } = require('./support/real-node-red');

const KEY = 'sim-key-foreign-flows';
const DIR = path.join(__dirname, 'fixtures', 'foreign-flows');

/** A fixture with its collector URL filled in, and its Catch nodes reporting msg.error. */
function fixture(name, collectorUrl) {
  const nodes = JSON.parse(fs.readFileSync(path.join(DIR, name), 'utf8').split('__COLLECTOR__').join(collectorUrl));
  const tab = nodes.find((n) => n.type === 'tab');
  for (const c of nodes.filter((n) => n.type === 'catch')) {
    const errorsId = c.wires[0][0];
    const move = {
      id: c.id + '.move',
      type: 'change',
      z: tab.id,
      rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'error', tot: 'msg' }],
      wires: [[errorsId]],
    };
    c.wires = [[move.id]];
    nodes.push(move);
  }
  return nodes;
}

describe('foreign flows in a real Node-RED (packed package, deployed through the admin API)', function () {
  this.timeout(300000);
  const rt = useRealNodeRed({ key: KEY, simOptions: { renderMs: 200 } });
  let red;
  let sim;
  let collector;
  before(() => ({ red, sim, collector } = rt));

  async function press(injectId) {
    for (let i = 0; i < 40; i++) {
      const r = await request('POST', red.adminUrl + '/inject/' + injectId, { body: {} });
      if (r.status === 200) return;
      await sleep(250);
    }
    throw new Error('inject ' + injectId + ' never answered');
  }

  /** Results and errors collected since `since` (counts of bodies). */
  const got = (p) => (collector.got[p] || []).slice();

  async function runFixture(file, injectId, results = 1) {
    const before = { r: got('/result').length, e: got('/error').length };
    const logBefore = red.log().length;
    await deploy(red, fixture(file, collector.url));
    await sleep(300);
    await press(injectId);
    const deadline = Date.now() + 40000;
    while (got('/result').length - before.r < results && got('/error').length === before.e && Date.now() < deadline) await sleep(100);
    const errs = got('/error').slice(before.e);
    assert.deepStrictEqual(errs, [], 'no errors');
    const res = got('/result').slice(before.r);
    assert.strictEqual(res.length, results, 'results within 40 s');
    const log = red.log().slice(logBefore);
    for (const bad of ['Cannot read properties', 'Invalid property expression', 'zero-length', 'TypeError', 'internal error']) {
      assert.ok(!log.includes(bad), 'the log has "' + bad + '":\n' + log.slice(-3000));
    }
    return { res, log };
  }

  it('minimal nodes (only id, type, z, wires, config): the defaults apply and a clip comes out', async () => {
    const { res } = await runFixture('minimal.json', 'ff.min.inject');
    const item = res[0];
    assert.match(item.videoURL, /\/media\/[0-9a-f-]+\.mp4$/);
    const sent = sim.requests().find((r) => r.bodyText.includes('A red kite'));
    assert.ok(sent, 'the inject payload was the prompt');
  });

  it('a flow saved by 0.1.0 (no image, imageType, positivePromptType): its prompt text is used, two takes come out', async () => {
    const { res } = await runFixture('older-version.json', 'ff.old.inject', 2);
    assert.strictEqual(res.length, 2);
    const sent = sim.requests().find((r) => r.bodyText.includes('A lighthouse at dusk'));
    assert.ok(sent, 'the typeless prompt property was sent as the prompt');
    assert.ok(!/"inputs"/.test(sent.bodyText), 'no image: text-to-video');
  });

  it('a webhook flow written by hand (token as credential): delivered by the webhook node', async () => {
    const { res } = await runFixture('hand-written-webhook.json', 'ff.hook.inject');
    const item = res[0];
    assert.strictEqual(item.seed, 7);
    const delivered = sim.deliveries().filter((d) => d.kind === 'webhook' || d.url);
    assert.ok(delivered.length >= 1, 'Runware (the simulator) POSTed the result');
  });

  it('all three deployed side by side: GET /flows returns them as deployed (nothing rewritten)', async () => {
    const all = [
      ...fixture('minimal.json', collector.url),
      ...fixture('older-version.json', collector.url),
      ...fixture('hand-written-webhook.json', collector.url),
    ];
    await deploy(red, all);
    const r = await request('GET', red.adminUrl + '/flows', { headers: { 'Node-RED-API-Version': 'v2' } });
    const flows = r.json().flows;
    const submit = flows.find((n) => n.id === 'ff.min.submit');
    assert.deepStrictEqual(Object.keys(submit).sort(), ['config', 'id', 'type', 'wires', 'z']);
  });
});
