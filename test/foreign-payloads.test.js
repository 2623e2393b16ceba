'use strict';
// Payloads as real flows build them: in a function node (its own JavaScript realm), a change node
// (JSON) and JSONata. Each must reach Runware exactly. Plus what a payload that is neither text nor
// task fields gets, the honest error codes, input limits and what result msgs carry.
const assert = require('assert');
const { helper, useHarness, KEY, configNode, submitNode, pollNode, load, collector, submittedTasks, apiRequests, sleep, PNG_B64 } = require('./helpers');

const FUNCTION = require('@node-red/nodes/core/function/10-function.js');
const CHANGE = require('@node-red/nodes/core/function/15-change.js');
const COMPLETE = require('@node-red/nodes/core/common/24-complete.js');

describe('payloads built in function, change and JSONata nodes', function () {
  let sim;
  useHarness((s) => (sim = s));
  beforeEach(() => sim.reset());

  /** inject (test) → [builder] → ovi submit → ovi poll → results; failures → catch → errors. */
  async function flowWith(builder, { submit = {}, extraNodes = [] } = {}) {
    const nodes = [
      configNode(sim),
      { ...builder, id: 'build', wires: [['submit']] },
      submitNode({ wires: [['poll', 'out']], ...submit }),
      pollNode({ wires: [['results']] }),
      { id: 'out', type: 'helper' },
      { id: 'results', type: 'helper' },
      { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['errors']] },
      { id: 'errors', type: 'helper' },
      ...extraNodes,
    ];
    const { NODES } = require('./helpers');
    const placed = nodes.map((n, i) => (n.type === 'ovi-config' ? n : { x: 100 + i * 10, y: 100, z: 'flow', ...n }));
    placed.unshift({ id: 'flow', type: 'tab', label: 'test' });
    await helper.load([...NODES, FUNCTION, CHANGE, COMPLETE], placed, { cfg: { apiKey: KEY } });
    return { out: collector('out'), results: collector('results'), errors: collector('errors') };
  }
  const fn = (func) => ({ type: 'function', func, outputs: 1, noerr: 0, initialize: '', finalize: '', libs: [] });
  const change = (to, tot) => ({
    type: 'change',
    rules: [{ t: 'set', p: 'payload', pt: 'msg', to, tot }],
    action: '',
    property: '',
    from: '',
    to: '',
    reg: false,
  });

  it('a function node (another realm) builds {positivePrompt, numberResults, seed, advancedFeatures}: sent exactly, three results', async () => {
    const { results, errors } = await flowWith(
      fn("msg.payload = { positivePrompt: 'A fox', numberResults: 3, seed: 42, advancedFeatures: { videoCFGScale: 6 } }; return msg;"),
    );
    helper.getNode('build').receive({ payload: 'ignored' });
    const got = await results.next(3);
    const [task] = submittedTasks(sim);
    assert.strictEqual(task.positivePrompt, 'A fox');
    assert.strictEqual(task.numberResults, 3);
    assert.strictEqual(task.seed, 42);
    assert.deepStrictEqual(task.advancedFeatures, { videoCFGScale: 6 });
    assert.deepStrictEqual(got.map((m) => m.parts.index).sort(), [0, 1, 2]);
    assert.strictEqual(errors.msgs.length, 0);
  });

  it('a change node sets msg.payload to JSON task fields: sent exactly', async () => {
    const { results } = await flowWith(change('{"positivePrompt":"By change","fps":12,"safety":{"checkContent":true,"mode":"fast"}}', 'json'));
    helper.getNode('build').receive({ payload: 'x' });
    await results.next(1);
    const [task] = submittedTasks(sim);
    assert.strictEqual(task.positivePrompt, 'By change');
    assert.strictEqual(task.fps, 12);
    assert.deepStrictEqual(task.safety, { checkContent: true, mode: 'fast' });
  });

  it('a JSONata expression builds the fields: sent exactly', async () => {
    const { results } = await flowWith(
      change('{"positivePrompt": "By JSONata " & $string(1 + 1), "steps": 10, "acceleratorOptions": {"teaCache": true}}', 'jsonata'),
    );
    helper.getNode('build').receive({ payload: 'x' });
    await results.next(1);
    const [task] = submittedTasks(sim);
    assert.strictEqual(task.positivePrompt, 'By JSONata 2');
    assert.strictEqual(task.steps, 10);
    assert.deepStrictEqual(task.acceleratorOptions, { teaCache: true });
  });

  it('a function node sets msg.image to a Uint8Array of its own realm: sent as a PNG data URI', async () => {
    const bytes = JSON.stringify([...Buffer.from(PNG_B64, 'base64')]);
    const { results } = await flowWith(fn('msg.image = new Uint8Array(' + bytes + "); msg.payload = 'from bytes'; return msg;"));
    helper.getNode('build').receive({ payload: 'x' });
    await results.next(1);
    const [task] = submittedTasks(sim);
    assert.strictEqual(task.inputs.image, 'data:image/png;base64,' + PNG_B64);
  });

  it('a payload that is neither text nor task fields is an error naming what came, and nothing is sent', async () => {
    const { errors } = await flowWith(fn('msg.payload = msg.kind === "date" ? new Date(0) : msg.kind === "num" ? 1733231312000 : [1, 2]; return msg;'));
    helper.getNode('build').receive({ kind: 'date' });
    helper.getNode('build').receive({ kind: 'num' });
    helper.getNode('build').receive({ kind: 'arr' });
    const got = await errors.next(3);
    const byText = got.map((e) => e.error.message).sort();
    assert.match(
      byText.find((t) => /Date/.test(t)),
      /msg\.payload must be the prompt \(text\) or an object of task fields, got a Date/,
    );
    assert.match(
      byText.find((t) => /1733231312000/.test(t)),
      /got 1733231312000 \(an inject timestamp\?/,
    );
    assert.match(
      byText.find((t) => /array/.test(t)),
      /got an array/,
    );
    for (const e of got) {
      assert.strictEqual(e.error.code, 'validation');
      assert.strictEqual(e.error.cause.parameter, 'payload');
    }
    assert.strictEqual(apiRequests(sim).length, 0);
  });

  it('an ovi poll reads msg.ovi.task made in a function node: two results expected and delivered for a task it never saw', async () => {
    const uuid = require('crypto').randomUUID();
    const res = await fetch(sim.url, {
      method: 'POST',
      headers: { Authorization: 'Bearer ' + KEY, 'Content-Type': 'application/json' },
      body: JSON.stringify([
        { taskType: 'videoInference', taskUUID: uuid, model: 'runware:190@1', positivePrompt: 'elsewhere', deliveryMethod: 'async', numberResults: 2 },
      ]),
    });
    assert.strictEqual(res.status, 200);
    const nodes = [
      configNode(sim),
      { ...fn('msg.ovi = { task: { numberResults: 2 } }; return msg;'), id: 'build', wires: [['poll']] },
      pollNode({ wires: [['results']] }),
      { id: 'results', type: 'helper' },
    ];
    const { NODES } = require('./helpers');
    const placed = nodes.map((n, i) => (n.type === 'ovi-config' ? n : { x: 100 + i * 10, y: 100, z: 'flow', ...n }));
    placed.unshift({ id: 'flow', type: 'tab', label: 'test' });
    await helper.load([...NODES, FUNCTION], placed, { cfg: { apiKey: KEY } });
    const results = collector('results');
    helper.getNode('build').receive({ taskUUID: uuid });
    const got = await results.next(2);
    assert.deepStrictEqual(
      got.map((m) => m.parts.count),
      [2, 2],
    );
  });

  it('result msgs keep the submitting msg properties but not its payload, image, req or res (poll path)', async () => {
    const { results } = await flowWith(fn('return msg;'));
    helper
      .getNode('build')
      .receive({ payload: 'keep my topic', topic: 'kept', mine: { a: 1 }, image: Buffer.from(PNG_B64, 'base64'), req: { fake: true }, res: { fake: true } });
    const [r] = await results.next(1);
    assert.strictEqual(r.topic, 'kept');
    assert.deepStrictEqual(r.mine, { a: 1 });
    for (const k of ['image', 'req', 'res']) assert.strictEqual(r[k], undefined, 'msg.' + k + ' is not carried');
    assert.ok(r.payload.videoURL, 'payload is the result');
  });

  it('a split upstream keeps its parts: results of a task with several generations nest them, so two joins regroup both levels', async () => {
    const { results } = await flowWith(fn('return msg;'), { submit: { numberResults: 2 } });
    const outer = { id: 'split-1', index: 1, count: 3, type: 'array', len: 1 };
    helper.getNode('build').receive({ payload: 'one of three prompts', parts: outer });
    const got = await results.next(2);
    for (const m of got) {
      assert.strictEqual(m.parts.count, 2);
      assert.deepStrictEqual(m.parts.parts, outer);
    }
  });

  it('a Complete node fires once per task, after all its outcomes', async () => {
    const { results, errors } = await flowWith(fn('return msg;'), {
      submit: { numberResults: 2 },
      extraNodes: [
        { id: 'complete', type: 'complete', scope: ['poll'], uncaught: false, wires: [['completed']] },
        { id: 'completed', type: 'helper' },
      ],
    });
    const completed = collector('completed');
    helper.getNode('build').receive({ payload: 'two takes' });
    await results.next(2);
    const [c] = await completed.next(1);
    assert.ok(c.taskUUID);
    await sleep(200);
    assert.strictEqual(completed.msgs.length, 1);
    assert.strictEqual(errors.msgs.length, 0);
  });
});

describe('limits and honest errors', function () {
  let sim;
  useHarness((s) => (sim = s));
  beforeEach(() => sim.reset());

  async function setup(submit = {}) {
    await load([
      configNode(sim),
      submitNode({ wires: [['out']], ...submit }),
      { id: 'out', type: 'helper' },
      { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['errors']] },
      { id: 'errors', type: 'helper' },
    ]);
    return { out: collector('out'), errors: collector('errors') };
  }

  it('a prompt over 3000 characters is refused locally, naming the field and the limit', async () => {
    const { errors } = await setup();
    helper.getNode('submit').receive({ payload: 'x'.repeat(3001) });
    const [e] = await errors.next(1);
    assert.match(e.error.message, /^Prompt \(positivePrompt\) must be at most 3000 characters, got 3001/);
    assert.strictEqual(apiRequests(sim).length, 0);
  });

  it('a negative prompt over the cap is refused the same way', async () => {
    const { errors } = await setup();
    helper.getNode('submit').receive({ payload: { positivePrompt: 'ok', advancedFeatures: { audioNegativePrompt: 'n'.repeat(3001) } } });
    const [e] = await errors.next(1);
    assert.match(e.error.message, /Audio negative \(advancedFeatures\.audioNegativePrompt\) must be at most 3000 characters/);
  });

  it('an error lists at most three problems and counts the rest', async () => {
    const { errors } = await setup();
    helper.getNode('submit').receive({ payload: { positivePrompt: 'ok', fps: 0, steps: 0, numberResults: 9, outputQuality: 5, ttl: 1 } });
    const [e] = await errors.next(1);
    assert.strictEqual(e.error.message.split('; ').length, 3, e.error.message);
    assert.match(e.error.message, /\(and 2 more problems\)$/);
  });

  it('a GIF data URI is refused locally (Runware lists PNG, JPG and WEBP only)', async () => {
    const { errors } = await setup();
    helper.getNode('submit').receive({ payload: 'gif', image: 'data:image/gif;base64,R0lGODlhAQABAAAAACw=' });
    const [e] = await errors.next(1);
    assert.match(e.error.message, /not a base64 PNG, JPEG or WEBP image/);
    assert.strictEqual(apiRequests(sim).length, 0);
  });

  it('a request the client refuses as too large is a validation error, never "may have reached Runware"', async () => {
    const { RunwareClient } = require('../dist/nodes/lib/runware-client.js');
    const client = new RunwareClient({ endpoint: sim.url, apiKey: () => KEY, timeoutMs: 5000, retry: { retries: 0, baseMs: 0, maxMs: 0 } });
    try {
      const huge = { taskType: 'videoInference', taskUUID: require('crypto').randomUUID(), positivePrompt: 'x'.repeat(33 * 1024 * 1024) };
      await assert.rejects(client.submit(huge), (e) => e.code === 'validation' && e.rawCode === 'requestTooLarge' && !e.unconfirmed);
      assert.strictEqual(apiRequests(sim).length, 0);
    } finally {
      client.close();
    }
  });

  it('user strings cannot forge the lossless big-number marker', () => {
    const { stringifyLossless } = require('../dist/nodes/lib/lossless-json.js');
    const hostile = { a: '\u0000ovi-bigint:123', b: 'ovi-bigint-00:5', ['\u0000ovi-bigint:7']: 1 };
    assert.strictEqual(stringifyLossless(hostile), JSON.stringify(hostile));
    assert.strictEqual(stringifyLossless({ seed: 9223372036854775807n, s: '\u0000ovi-bigint:1' }), '{"seed":9223372036854775807,"s":"\\u0000ovi-bigint:1"}');
  });

  it('an unexpected exception is code "internal" asking for a report; status text is cut at a word; the cause reads in a string', () => {
    const { asOviError, shortText, OviError } = require('../dist/nodes/lib/errors.js');
    const err = asOviError(new TypeError("Cannot read properties of undefined (reading 'indexOf')"), 'ovi submit');
    assert.strictEqual(err.code, 'internal');
    assert.match(err.message, /please report it/);
    const rule = 'validation: advancedFeatures.videoCFGScale must be a number between 0 and 10, got 12';
    const cut = shortText(rule, 48);
    assert.ok(cut.endsWith('…') && cut.length <= 48, cut);
    assert.ok(!/\d…$/.test(cut) || /\s\d+…$/.test(cut) === false, 'never cut inside a number: ' + cut);
    assert.ok(rule.startsWith(cut.slice(0, -1)), cut);
    const e = new OviError({ code: 'safety', rawCode: 'contentPolicyViolation', message: 'blocked', taskUUID: 'abc' });
    assert.strictEqual(String(e.cause), 'safety · contentPolicyViolation · abc');
    assert.deepStrictEqual(JSON.parse(JSON.stringify(e.cause)).code, 'safety');
  });
});
