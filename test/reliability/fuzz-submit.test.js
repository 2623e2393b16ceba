'use strict';
// Fuzz: 10,000 generated msgs into ovi submit (seeded, reproducible). Each is built to be valid, or
// invalid in one known place; every invalid one must fail with an error that names that place and
// cost zero HTTP requests, every valid one must be submitted once. Nothing may crash.
const assert = require('assert');
const crypto = require('crypto');
const { helper, startSim, configNode, submitNode, load, PNG_B64 } = require('../helpers');
const { taskFields } = require('../../dist/nodes/lib/task-schema.js');
const { SEED, rng, sleep, text, own, rejectionCounter, heapUsed, mb, leaks, helperLogText, releaseHelperSpies, statusRecorder, report } = require('./support');

const COUNT = Number(process.env.FUZZ_MSGS || 10000);
const API_KEY = 'rel-fuzz-key-Fw8Tn3Qz5Kc1';
const HUGE = 'Z'.repeat(1024 * 1024); // one instance, reused: 1 MiB strings without 1 GiB of heap
const PNG = Buffer.from(PNG_B64, 'base64');
const HUGE_IMAGE = 'A'.repeat(14 * 1024 * 1024 + 4); // base64-looking, one character over the image cap

function deep(levels, leaf = 1) {
  let o = leaf;
  for (let i = 0; i < levels; i++) o = { a: o };
  return o;
}

const fn = function notData() {};
/** Values no field takes, whatever its kind (besides the kind-specific ones below). */
const ALIEN_VALUES = [[], ['x'], {}, deep(200), true, Buffer.from('not json'), new Date(0), fn, new Map([[1, 2]])];
const ALIEN = () => ALIEN_VALUES;

/** Invalid values for one field, from its metadata: out of range, wrong type, non-finite, huge. */
function invalidValues(meta) {
  const v = [];
  const min = meta.min === undefined ? undefined : Number(meta.min);
  const max = meta.max === undefined ? undefined : Number(meta.max);
  switch (meta.kind) {
    case 'integer':
    case 'number':
      if (min !== undefined) v.push(min - 1, min - 0.5);
      if (max !== undefined) v.push(max + 1, max + 0.25);
      if (meta.kind === 'integer') v.push((min || 0) + 1.5);
      if (min !== undefined && min > 0) v.push(-0); // -0 is a valid 0 where 0 is allowed
      v.push(NaN, Infinity, -Infinity, String(min ?? 1), 5n, HUGE, -1e308);
      break;
    case 'seed':
      v.push(-1, 1.5, 2 ** 53, -0, '9223372036854775808', '-1', '1e3', ' 1', 'abc', '', NaN, Infinity, -1n, 2n ** 63n, HUGE);
      break;
    case 'boolean':
      v.push('true', 'false', 1, 0, 'yes', HUGE);
      break;
    case 'enum':
      v.push('', String(meta.values[0]).toLowerCase() + 'x', ' ' + meta.values[0], 5, HUGE);
      break;
    case 'string':
      v.push(5, NaN, 12n);
      break;
    case 'prompt':
      v.push('', '   ', '\n\t', 5, 0n);
      break;
    case 'uuid':
      v.push('abc', '6ba7b810-9dad-11d1-80b4-00c04fd430c8', crypto.randomUUID().toUpperCase().replace(/^./, 'g'), '', 5, HUGE);
      break;
    case 'url':
      v.push('ftp://example.com/x', 'not a url', 'http://', 'javascript:alert(1)', 'http://exa mple.com', 'https://x.y/' + HUGE.slice(0, 9000), 5);
      break;
    case 'image':
      v.push('data:image/png;base64,@@@@', 'data:text/plain;base64,QUJDRA==', 'abc', '', 'A'.repeat(17), 5, HUGE_IMAGE);
      break;
  }
  if (!meta.nullable) v.push(null);
  v.push(...ALIEN().filter((x) => x !== null && x !== 0 && !(meta.kind === 'boolean' && x === true)));
  return v;
}

/** A task path's value placed in a payload object ({a: {b: v}} for "a.b"). */
function place(payload, path, value) {
  const keys = path.split('.');
  let cur = payload;
  for (const k of keys.slice(0, -1)) cur = cur[k] = cur[k] && typeof cur[k] === 'object' ? cur[k] : {};
  cur[keys[keys.length - 1]] = value;
  return payload;
}

/** A random valid msg (of several shapes). */
function validMsg(r) {
  const shape = r.int(0, 5);
  if (shape === 0) return { payload: 'a valid prompt ' + r.int(0, 1e6) };
  if (shape === 1) return { payload: 'animate ' + r.int(0, 1e6), image: PNG, taskUUID: crypto.randomUUID() };
  if (shape === 2) {
    // A null-prototype payload and a msg with an own "__proto__" key (as JSON.parse makes them).
    const p = Object.create(null);
    p.positivePrompt = 'null proto';
    p.fps = r.int(1, 120);
    return Object.assign(JSON.parse('{"__proto__": {"polluted": "msg"}}'), { payload: p });
  }
  const p = { positivePrompt: 'fields ' + r.int(0, 1e6) };
  if (r.chance(0.5)) p.fps = r.int(1, 120);
  if (r.chance(0.5)) p.steps = r.int(1, 100);
  if (r.chance(0.5)) p.numberResults = r.int(1, 4);
  if (r.chance(0.5)) p.seed = r.pick([r.int(0, 2 ** 31), '9223372036854775807', 9223372036854775806n, 0, String(r.int(0, 1e9))]);
  if (r.chance(0.5)) p.outputFormat = r.pick(['MP4', 'WEBM', 'MOV']);
  if (r.chance(0.3)) p.outputQuality = r.int(20, 99);
  if (r.chance(0.3)) p.ttl = r.int(60, 86400);
  if (r.chance(0.3)) p.includeCost = r.chance(0.5);
  if (r.chance(0.4))
    p.advancedFeatures = { videoCFGScale: Math.round(r() * 100) / 10, slgLayer: r.pick([null, -0, r.int(0, 30)]), videoNegativePrompt: 'blur' };
  if (r.chance(0.3)) p.safety = { checkContent: r.chance(0.5), mode: r.pick(['none', 'fast', 'full']) };
  if (r.chance(0.3)) p.acceleratorOptions = { teaCache: true, teaCacheDistance: Math.round(r() * 100) / 100, cacheMaxConsecutiveSteps: r.int(1, 5) };
  if (shape === 5) p.inputs = { image: 'data:image/png;base64,' + PNG_B64 };
  return { payload: p };
}

/** A random invalid msg and the text its error must name. */
function invalidMsg(r, fields) {
  const kind = r.int(0, 9);
  const ok = () => ({ positivePrompt: 'ok' });
  switch (kind) {
    case 0:
    case 1:
    case 2: {
      // One field of the schema out of range or of the wrong type.
      const meta = r.pick(fields);
      const value = r.pick(invalidValues(meta));
      return { msg: { payload: place(ok(), meta.path, value) }, names: meta.path, what: 'field ' + meta.path };
    }
    case 3: {
      // A nested group of the wrong type.
      const group = r.pick(['inputs', 'advancedFeatures', 'safety', 'acceleratorOptions']);
      return {
        msg: { payload: { ...ok(), [group]: r.pick(['x', 5, [], [1], null, true, Buffer.from('x'), new Date(), fn, HUGE]) } },
        names: group,
        what: 'group ' + group,
      };
    }
    case 4: {
      // Unknown keys, prototype pollution attempts among them, at the top or in a group.
      const key = r.pick(['__proto__', 'constructor', 'prototype', 'width', 'height', 'duration', 'positive_prompt', 'apiKey', 'x'.repeat(300)]);
      // JSON.parse makes "__proto__" an own key (Object.assign would set the prototype instead).
      const json = '"' + key + '": {"polluted": "yes", "prototype": {"polluted": "yes"}}';
      const polluting = JSON.parse('{' + json + '}');
      if (r.chance(0.5)) return { msg: { payload: JSON.parse('{"positivePrompt": "ok", ' + json + '}') }, names: key, what: 'unknown key' };
      const group = r.pick(['advancedFeatures', 'safety', 'acceleratorOptions', 'inputs']);
      return { msg: { payload: { ...ok(), [group]: polluting } }, names: group + '.' + key, what: 'unknown key in group' };
    }
    case 5: {
      // A payload that is neither a prompt nor a task object.
      const payload = r.pick([
        5,
        NaN,
        Infinity,
        -0,
        0n,
        12345678901234567890n,
        true,
        false,
        null,
        undefined,
        '',
        '   ',
        [],
        ['a prompt'],
        Buffer.from('a prompt'),
        new Date(),
        fn,
        new Map(),
        deep(1000, 'a'),
      ]);
      // deep(...) is an object with one unknown key "a": named as such; absent and blank payloads lack a
      // prompt; any other payload (a number, an array, a Buffer, ...) is itself the error, named as msg.payload.
      const absent = payload === undefined || payload === null || (typeof payload === 'string' && payload.trim() === '');
      const names = absent ? 'positivePrompt' : payload && typeof payload === 'object' && payload.a !== undefined ? '"a"' : 'msg.payload';
      return { msg: { payload }, names, what: 'payload ' + (Array.isArray(payload) ? 'array' : typeof payload) };
    }
    case 6: {
      // msg.image that is not an image.
      const image = r.pick([
        Buffer.from('GIF89a-not-supported'),
        Buffer.alloc(0),
        crypto.randomBytes(64),
        5,
        true,
        {},
        [],
        new Date(),
        fn,
        { type: 'Buffer', data: [1, 2, 300] },
      ]);
      return { msg: { payload: 'ok', image }, names: 'msg.image', what: 'msg.image' };
    }
    case 7: {
      // A msg.image string the schema refuses.
      return {
        msg: { payload: 'ok', image: r.pick(['not an image', 'data:image/png;base64,!!', HUGE.slice(0, 1001)]) },
        names: 'inputs.image',
        what: 'msg.image string',
      };
    }
    case 8: {
      // msg.taskUUID that is not a UUID v4.
      return {
        msg: { payload: 'ok', taskUUID: r.pick(['abc', '', 5, NaN, {}, [], true, '6ba7b810-9dad-11d1-80b4-00c04fd430c8', HUGE]) },
        names: 'taskUUID',
        what: 'msg.taskUUID',
      };
    }
    default: {
      // Fields fine alone, not together.
      const acc = r.pick([
        { cacheStartStep: 10, cacheEndStep: 5 },
        { cacheStartStepPercentage: 50, cacheEndStepPercentage: 50 },
        { cacheEndStep: 40 }, // more than the default 30 steps
        { cacheStartStep: 1, cacheStartStepPercentage: 10 },
      ]);
      return { msg: { payload: { ...ok(), acceleratorOptions: acc } }, names: 'acceleratorOptions.cache', what: 'cross-field' };
    }
  }
}

describe('reliability: fuzzing ovi submit', function () {
  this.timeout(240000);
  let sim;
  before(async () => {
    sim = await startSim({ apiKeys: [API_KEY], renderMs: 60000 });
    await helper.startServer();
  });
  after(async () => {
    await helper.stopServer();
    await sim.close();
  });

  it(COUNT + ' generated msgs: invalid ones name the field and cost no request, valid ones are sent once', async () => {
    const heapStart = await heapUsed();
    await load(
      [
        configNode(sim, { maxConcurrent: 0 }),
        submitNode({ wires: [['out']] }),
        { id: 'out', type: 'helper' },
        { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['errors']] },
        { id: 'errors', type: 'helper' },
      ],
      { cfg: { apiKey: API_KEY } },
    );
    const fields = taskFields();
    const r = rng(SEED);
    const rejections = rejectionCounter();
    const statuses = statusRecorder(helper, ['submit']);
    const uncaught = [];
    const onUncaught = (e) => uncaught.push(e && e.stack);
    process.on('uncaughtException', onUncaught);

    const expected = new Map(); // fuzzId → { valid, names, what }
    const outcomes = new Map(); // fuzzId → [{ kind, message }]
    const errorTexts = [];
    const add = (kind) => (msg) => {
      const list = outcomes.get(msg.fuzzId) || [];
      const message = msg.error ? own(msg.error.message) : '';
      list.push({ kind, message });
      outcomes.set(msg.fuzzId, list);
      if (kind === 'error') errorTexts.push(own(message.slice(0, 300) + ' ' + text(msg.error.cause).slice(0, 300)));
    };
    helper.getNode('out').on('input', add('ack'));
    helper.getNode('errors').on('input', add('error'));

    const started = Date.now();
    const submit = helper.getNode('submit');
    let valid = 0;
    const BATCH = 250;
    for (let base = 0; base < COUNT; base += BATCH) {
      for (let i = base; i < Math.min(COUNT, base + BATCH); i++) {
        let msg;
        if (r.chance(0.08)) {
          msg = validMsg(r);
          expected.set(i, { valid: true, what: 'valid' });
          valid++;
        } else {
          const inv = invalidMsg(r, fields);
          msg = inv.msg;
          expected.set(i, { valid: false, names: inv.names, what: inv.what, shown: own(text(msg).slice(0, 160)) });
        }
        msg.fuzzId = i;
        submit.receive(msg);
      }
      const until = Date.now() + 30000;
      while (Date.now() < until) {
        let settled = 0;
        for (let i = base; i < Math.min(COUNT, base + BATCH); i++) if (outcomes.has(i)) settled++;
        if (settled === Math.min(COUNT, base + BATCH) - base) break;
        await sleep(10);
      }
    }
    await sleep(500); // late second outcomes would show here
    process.off('uncaughtException', onUncaught);
    rejections.stop();
    const heap1 = await heapUsed();
    const stats = sim.stats();
    const found = leaks([API_KEY], { errors: errorTexts.join('\n'), log: helperLogText(helper), status: statuses.join('\n') });
    const samples = [...new Set(errorTexts.map((t) => t.replace(/ \{.*$/, '').slice(0, 150)))].slice(0, 8);

    const byWhat = {};
    const problems = [];
    let errors = 0;
    let acks = 0;
    for (const [id, exp] of expected) {
      const got = outcomes.get(id) || [];
      byWhat[exp.what.split(' ')[0]] = (byWhat[exp.what.split(' ')[0]] || 0) + 1;
      if (got.length !== 1) {
        problems.push(id + ' (' + exp.what + '): ' + got.length + ' outcomes');
        continue;
      }
      if (got[0].kind === 'ack') acks++;
      else errors++;
      if (exp.valid && got[0].kind !== 'ack') problems.push(id + ' valid, but: ' + got[0].message);
      if (!exp.valid && got[0].kind !== 'error') problems.push(id + ' (' + exp.what + ') was accepted: ' + exp.shown);
      if (!exp.valid && got[0].kind === 'error' && !got[0].message.includes(exp.names))
        problems.push(id + ' (' + exp.what + '): error does not name ' + exp.names + ': ' + got[0].message.slice(0, 200));
      // Clear: a sentence or a few, not a dump.
      if (!exp.valid && got[0].kind === 'error' && got[0].message.length > 1000)
        problems.push(id + ' (' + exp.what + '): a ' + got[0].message.length + '-character error: ' + got[0].message.slice(0, 120) + '…');
    }
    // What the runtime keeps once the flow is gone: without the test's own records, the test
    // helper's spies (they hold every call's arguments) and the simulator's jobs.
    expected.clear();
    outcomes.clear();
    errorTexts.length = 0;
    statuses.length = 0;
    await helper.unload();
    releaseHelperSpies(helper);
    sim.reset();
    const heapEnd = await heapUsed();
    report('fuzz ovi submit', {
      seed: SEED,
      msgs: COUNT,
      valid,
      invalid: COUNT - valid,
      acks,
      errors,
      kinds: byWhat,
      videoInferenceTasksAtSimulator: stats.submits,
      simRefused: stats.invalidSubmits,
      unhandledRejections: rejections.count,
      uncaughtExceptions: uncaught.length,
      heap: mb(heapStart) + ' before, ' + mb(heap1) + ' after the run (helper spies, simulator and test records included), ' + mb(heapEnd) + ' after unload',
      durationS: ((Date.now() - started) / 1000).toFixed(1),
    });
    console.log('      sample errors:\n        ' + samples.join('\n        '));

    const kinds = {};
    for (const p of problems) {
      const k = p
        .replace(/^\d+ /, '')
        .replace(/: .*$/, '')
        .replace(/\d+-character/, 'long');
      kinds[k] = (kinds[k] || 0) + 1;
    }
    if (problems.length) console.log('      problems by kind: ' + JSON.stringify(kinds));
    assert.deepStrictEqual(problems.slice(0, 12), [], problems.length + ' problems');
    assert.strictEqual(uncaught.length, 0, 'uncaught exceptions: ' + uncaught.slice(0, 2).join('\n'));
    assert.strictEqual(rejections.count, 0, 'unhandled rejections: ' + rejections.seen.slice(0, 2).join('\n'));
    assert.strictEqual(stats.submits, valid, 'requests carrying a task = the msgs generated valid');
    assert.strictEqual(stats.invalidSubmits, 0, 'the simulator refused none of the valid ones');
    assert.strictEqual({}.polluted, undefined, 'Object.prototype untouched');
    assert.strictEqual(Object.prototype.polluted, undefined);
    assert.deepStrictEqual(found, [], 'secrets leaked');
  });
});
