'use strict';
// Every task field, generated from the schema's own field list, three ways: set in the node →
// exactly that value in the HTTP request; overridden by msg.payload → in the request; out of range
// (in the node, and in the msg) → the field's specific error and zero requests to Runware.
const assert = require('assert');
const { helper, useHarness, configNode, submitNode, load, collector, submittedTasks, apiRequests, getPath, PNG_B64 } = require('./helpers');
const { taskFields } = require('../dist/nodes/lib/task-schema.js');
const { labelKey } = require('../dist/nodes/lib/field-check.js');

/** How messages name a field: the English form label, then the API name in brackets. */
const LABELS = require('../locales/en-US/ovi-submit.json')['ovi-submit'].label;
const named = (path) => (LABELS[labelKey(path)] ? LABELS[labelKey(path)] + ' (' + path + ')' : path);

const IMAGE = 'data:image/png;base64,' + PNG_B64;
const SKIP = new Set(['taskType', 'taskUUID', 'model', 'deliveryMethod', 'outputType']); // fixed: set by the node

function validValue(f) {
  switch (f.kind) {
    case 'integer':
      if (f.path === 'acceleratorOptions.cacheEndStep') return 10; // must stay <= steps (30)
      return f.max !== undefined ? Math.floor((Number(f.min) + Number(f.max)) / 2) : Number(f.min) + 2 + (f.min >= 60 ? 3540 : 0);
    case 'number':
      return Math.round(((Number(f.min) + Number(f.max)) / 2 + Number(f.max) / 40) * 100) / 100;
    case 'enum':
      return f.values[f.values.length - 1];
    case 'boolean':
      return true;
    case 'url':
      return 'https://hooks.example.com/ovi?x=1';
    case 'image':
      return IMAGE;
    case 'seed':
      return '9223372036854775807';
    case 'prompt':
      return 'A lighthouse at dusk <S>Hello there.<E>';
    default:
      return 'no blur, no text';
  }
}

function invalidValue(f) {
  switch (f.kind) {
    case 'integer':
      return f.max !== undefined ? Number(f.max) + 1 : Number(f.min) - 1;
    case 'number':
      return Number(f.max) + 2;
    case 'enum':
      return 'BOGUS';
    case 'boolean':
      return 'yes';
    case 'url':
      return 'ftp://nope.example.com';
    case 'image':
      return 'not an image!';
    case 'seed':
      return '9223372036854775808';
    case 'prompt':
      return '   ';
    default:
      return 42;
  }
}

/** Node properties that set field f to v, the way the editor stores them. */
function settingsFor(f, v) {
  if (f.path === 'positivePrompt') return { positivePrompt: v, positivePromptType: 'str' };
  if (f.path === 'inputs.image') return { image: v, imageType: 'str' };
  if (f.path === 'webhookURL') return { delivery: 'custom', webhookURL: v };
  const [group, key] = f.path.split('.');
  return key ? { [group]: { [key]: v } } : { [group]: v };
}

function payloadFor(f, v) {
  const [group, key] = f.path.split('.');
  const p = { positivePrompt: 'from the msg' };
  if (key) p[group] = { [key]: v };
  else p[group] = v;
  return p;
}

function rawJsonValue(v) {
  return f_isSeed(v) ? v : JSON.stringify(v);
}
function f_isSeed(v) {
  return typeof v === 'string' && /^\d{19}$/.test(v);
}

describe('every task field (set, overridden, out of range)', function () {
  let sim;
  useHarness((s) => (sim = s));

  async function run(settings, msg) {
    sim.clearRequests();
    await load([
      configNode(sim),
      submitNode({ positivePrompt: 'a prompt from the node', positivePromptType: 'str', ...settings }),
      { id: 'out', type: 'helper' },
      { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['errors']] },
      { id: 'errors', type: 'helper' },
    ]);
    const out = collector('out');
    const errors = collector('errors');
    helper.getNode('submit').receive(msg);
    const first = await Promise.race([out.next(1).then((m) => ({ ok: m[0] })), errors.next(1).then((m) => ({ err: m[0] }))]);
    return first;
  }

  const fields = taskFields().filter((f) => !SKIP.has(f.path));
  it('covers all fields of the schema', () => {
    assert.ok(fields.length >= 25, 'expected every Ovi field, got ' + fields.length);
  });

  for (const f of fields) {
    describe(f.path, () => {
      it('set in the node → in the request exactly', async () => {
        const v = validValue(f);
        const r = await run(settingsFor(f, v), { payload: f.path === 'positivePrompt' ? undefined : 'ignored', topic: 't' });
        assert.ok(r.ok, 'submit failed: ' + (r.err && r.err.error.message));
        const tasks = submittedTasks(sim);
        assert.strictEqual(tasks.length, 1);
        const sent = getPath(tasks[0], f.path);
        if (f.path === 'positivePrompt') assert.strictEqual(sent, v);
        else assert.deepStrictEqual(sent, v);
        // the raw JSON carries the value as written (the seed as a bare 19-digit integer)
        const raw = apiRequests(sim)[0].bodyText;
        const leaf = f.path.split('.').pop();
        if (f.kind !== 'image') assert.ok(raw.includes('"' + leaf + '":' + rawJsonValue(v)), raw.slice(0, 400));
      });

      if (f.path !== 'positivePrompt') {
        it('overridden by msg.payload → in the request', async () => {
          const nodeValue = validValue(f);
          const msgValue =
            f.kind === 'boolean'
              ? false
              : f.kind === 'enum'
                ? f.values[0]
                : f.kind === 'integer' || f.kind === 'number'
                  ? Number(f.min) + (f.path.endsWith('cacheEndStep') ? 1 : 0) + (f.path === 'ttl' ? 1 : 0)
                  : f.kind === 'seed'
                    ? 12345
                    : f.kind === 'url'
                      ? 'https://other.example.com/x'
                      : f.kind === 'image'
                        ? 'https://example.com/cat.png'
                        : 'overridden';
          const r = await run(settingsFor(f, nodeValue), { payload: payloadFor(f, msgValue) });
          assert.ok(r.ok, 'submit failed: ' + (r.err && r.err.error.message));
          const sent = getPath(submittedTasks(sim)[0], f.path);
          assert.deepStrictEqual(sent, msgValue);
        });
      }

      it('out of range in the node → its specific error, zero requests', async () => {
        const bad = invalidValue(f);
        const r = await run(settingsFor(f, bad), { payload: f.path === 'positivePrompt' ? undefined : 'x' });
        assert.ok(r.err, 'expected a failure');
        assert.strictEqual(r.err.error.code, 'validation');
        assert.ok(r.err.error.message.startsWith(named(f.path) + ' '), r.err.error.message);
        assert.strictEqual(r.err.error.cause.parameter, f.path);
        assert.strictEqual(apiRequests(sim).length, 0, 'nothing may reach Runware');
      });

      it('out of range in the msg → its specific error, zero requests', async () => {
        const bad = invalidValue(f);
        const r = await run({}, { payload: { ...payloadFor(f, bad), ...(f.path === 'positivePrompt' ? { positivePrompt: bad } : {}) } });
        assert.ok(r.err, 'expected a failure');
        assert.ok(r.err.error.message.startsWith(named(f.path) + ' '), r.err.error.message);
        assert.strictEqual(apiRequests(sim).length, 0, 'nothing may reach Runware');
      });
    });
  }

  it('a Date or a Buffer as a group object is refused by the schema, naming its class, zero requests', async () => {
    const a = await run({}, { payload: { positivePrompt: 'x', advancedFeatures: new Date(0) } });
    assert.strictEqual(a.err.error.message, 'advancedFeatures must be an object, got a Date');
    assert.strictEqual(apiRequests(sim).length, 0, 'nothing reached Runware');
    await helper.unload();
    const b = await run({}, { payload: { positivePrompt: 'x', safety: Buffer.from('x') } });
    assert.strictEqual(b.err.error.message, 'safety must be an object, got a Buffer');
    assert.strictEqual(apiRequests(sim).length, 0, 'nothing reached Runware');
  });

  it('names the range in the message (videoCFGScale 12)', async () => {
    const r = await run({}, { payload: { positivePrompt: 'x', advancedFeatures: { videoCFGScale: 12 } } });
    // The form's word first, the API name in brackets (README › Messages).
    assert.strictEqual(r.err.error.message, 'Video CFG scale (advancedFeatures.videoCFGScale) must be a number between 0 and 10, got 12');
    assert.strictEqual(apiRequests(sim).length, 0);
  });

  const crossField = [
    [
      { cacheStartStep: 10, cacheEndStep: 10 },
      {},
      /Start at step \(acceleratorOptions\.cacheStartStep\) is 10 but must be less than End at step \(acceleratorOptions\.cacheEndStep\), 10/,
    ],
    [{ cacheStartStepPercentage: 60, cacheEndStepPercentage: 40 }, {}, /\(acceleratorOptions\.cacheStartStepPercentage\) is 60 but must be less than/],
    [{ cacheEndStep: 31 }, {}, /\(acceleratorOptions\.cacheEndStep\) is 31 but must be at most Steps \(steps\), 30 \(the default\)/],
    [{ cacheEndStep: 21 }, { steps: 20 }, /\(acceleratorOptions\.cacheEndStep\) is 21 but must be at most Steps \(steps\), 20/],
    [
      { cacheEndStep: 20, cacheEndStepPercentage: 50 },
      {},
      /either End at step \(acceleratorOptions\.cacheEndStep\) or End at \(acceleratorOptions\.cacheEndStepPercentage\), not both/,
    ],
    [
      { cacheStartStep: 1, cacheStartStepPercentage: 5 },
      {},
      /either Start at step \(acceleratorOptions\.cacheStartStep\) or Start at \(acceleratorOptions\.cacheStartStepPercentage\), not both/,
    ],
  ];
  for (const [acc, top, re] of crossField) {
    it('cross-field rule: ' + JSON.stringify({ ...top, acceleratorOptions: acc }) + ' → error, zero requests', async () => {
      const r = await run({ acceleratorOptions: acc, ...top }, { payload: 'x' });
      assert.ok(r.err, 'expected a failure');
      assert.match(r.err.error.message, re);
      assert.ok(Array.isArray(r.err.error.cause.parameter), 'a cross-field error names all its fields');
      assert.strictEqual(apiRequests(sim).length, 0);
    });
  }

  it('a valid cross-field combination passes (start < end <= steps)', async () => {
    const r = await run({ steps: 40, acceleratorOptions: { cacheStartStep: 5, cacheEndStep: 40 } }, { payload: 'x' });
    assert.ok(r.ok, r.err && r.err.error.message);
  });
});
