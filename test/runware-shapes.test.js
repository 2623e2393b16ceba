'use strict';
// Runware as its own SDKs say it can answer (../shared/runware-api.md, last section), through the
// PACKED nodes in a real Node-RED 4.1: per-generation failures in both shapes (by poll and by
// webhook), refused and partial getResponse batches, a 5xx for a whole batch, errors that name no
// task, a lost acknowledgment followed by a resend refused under a code nobody documents, webhooks of
// any Content-Type, "taskFailedOrNotFound" for an acknowledged task, Runware's error details, and a
// refused text-to-video task. The simulator plays each shape (its alternative-shapes knobs and
// scripted answers).
const assert = require('assert');
const crypto = require('crypto');
const { useRealNodeRed, request, deploy, sleep } = require('./support/real-node-red');

const KEY = 'sim-key-shapes-0123456789';
const TOKEN = 'shapes-webhook-token-0123456789abcdef';

describe('Runware shapes through the packed nodes in a real Node-RED', function () {
  this.timeout(300000);
  const rt = useRealNodeRed({
    key: KEY,
    simOptions: { renderMs: 150 },
    env: (s) => (url) => ({ RUNWARE_ENDPOINT: s.url, RUNWARE_API_KEY: KEY, OVI_PUBLIC_URL: url }),
  });
  let red;
  let sim;
  let collector;
  let run = 0;
  before(() => ({ red, sim, collector } = rt));

  beforeEach(() => {
    sim.reset();
    sim.configure({ renderMs: 150, failureShape: null, webhookWrap: null, maxBatch: null, batchOverLimit: null, duplicateAnswer: null, requireInputs: null });
    for (const k of Object.keys(collector.got)) delete collector.got[k];
  });

  /**
   * inject(s) → ovi submit → ovi poll (or → Runware → ovi webhook) → /result; Catch → /error with
   * {error, parts, taskUUID}; a Complete node on the poll → /complete. `payloads`: one inject each.
   */
  function flow({ payloads, submit = {}, delivery = 'poll', config = {} }) {
    run++;
    const tab = { id: 'sh.tab', type: 'tab', label: 'shapes ' + run };
    const report = (id, p) => ({ id, type: 'http request', z: tab.id, method: 'POST', ret: 'txt', url: collector.url + p, wires: [[]] });
    const fn = (id, func, wires) => ({ id, type: 'function', z: tab.id, func, outputs: 1, wires: [wires] });
    const nodes = [
      tab,
      {
        id: 'sh.cfg',
        type: 'ovi-config',
        endpoint: '${RUNWARE_ENDPOINT}',
        publicUrl: '${OVI_PUBLIC_URL}',
        retries: 4,
        ...config,
        credentials: { apiKey: KEY },
      },
      {
        id: 'sh.submit',
        type: 'ovi-submit',
        z: tab.id,
        config: 'sh.cfg',
        delivery,
        webhookNode: delivery === 'webhook' ? 'sh.hook' : '',
        wires: [delivery === 'poll' ? ['sh.poll'] : []],
        ...submit,
      },
      { id: 'sh.poll', type: 'ovi-poll', z: tab.id, config: 'sh.cfg', initialDelay: 0.1, maxInterval: 0.3, wires: [['sh.result']] },
      { id: 'sh.hook', type: 'ovi-webhook', z: tab.id, config: 'sh.cfg', path: '/sh/hook', wires: [['sh.result']], credentials: { token: TOKEN } },
      fn('sh.result', 'msg.payload = { item: msg.payload, parts: msg.parts, taskUUID: msg.taskUUID }; return msg;', ['sh.resultPost']),
      report('sh.resultPost', '/result'),
      { id: 'sh.catch', type: 'catch', z: tab.id, scope: null, uncaught: false, wires: [['sh.error']] },
      fn('sh.error', 'msg.payload = { error: msg.error, parts: msg.parts, taskUUID: msg.taskUUID }; return msg;', ['sh.errorPost']),
      report('sh.errorPost', '/error'),
      { id: 'sh.complete', type: 'complete', z: tab.id, scope: ['sh.poll'], uncaught: false, wires: [['sh.completePost']] },
      report('sh.completePost', '/complete'),
    ];
    payloads.forEach((p, i) =>
      nodes.push({
        id: 'sh.go' + i,
        type: 'inject',
        z: tab.id,
        payload: JSON.stringify(p),
        payloadType: typeof p === 'string' ? 'str' : 'json',
        wires: [['sh.submit']],
      }),
    );
    for (const n of nodes) if (n.type === 'inject' && typeof payloads[Number(n.id.slice(5))] === 'string') n.payload = payloads[Number(n.id.slice(5))];
    // Fresh ids per deploy: Node-RED 4.1's full deploy trips over rewiring nodes it already runs.
    return JSON.parse(JSON.stringify(nodes).replace(/"sh\./g, '"sh' + run + '.'));
  }

  async function start(opts) {
    await deploy(red, flow(opts));
    await sleep(300);
    for (let i = 0; i < opts.payloads.length; i++) {
      const r = await request('POST', red.adminUrl + '/inject/sh' + run + '.go' + i, { body: {} });
      assert.strictEqual(r.status, 200);
    }
  }

  const got = (p) => collector.got[p] || [];
  async function until(what, fn, ms = 30000) {
    const deadline = Date.now() + ms;
    while (!fn()) {
      if (Date.now() > deadline)
        throw new Error('timed out waiting for ' + what + '; results=' + got('/result').length + ' errors=' + JSON.stringify(got('/error')));
      await sleep(100);
    }
  }

  for (const shape of ['errors', 'item']) {
    it(
      'numberResults 3, generation 1 fails by content policy (' + shape + ' shape) → by poll: 2 results, 1 safety error with parts, Complete once',
      async () => {
        sim.configure({ failureShape: shape });
        await start({ payloads: [{ positivePrompt: 'three takes [sim:safety:1]', numberResults: 3 }] });
        await until('2 results and 1 error', () => got('/result').length === 2 && got('/error').length === 1);
        await until('complete', () => got('/complete').length === 1);
        const e = got('/error')[0];
        assert.strictEqual(e.error.code, 'safety');
        assert.strictEqual(e.error.cause.rawCode, 'contentPolicyViolation');
        assert.strictEqual(e.error.cause.retryable, false);
        assert.strictEqual(e.parts.count, 3);
        const indexes = [...got('/result').map((r) => r.parts.index), e.parts.index].sort();
        assert.deepStrictEqual(indexes, [0, 1, 2], 'each generation has one outcome, so a join of results + errors completes');
        await sleep(500);
        assert.strictEqual(got('/result').length + got('/error').length, 3, 'nothing twice');
        assert.strictEqual(got('/complete').length, 1);
      },
    );

    it('the same partial failure (' + shape + ' shape) by webhook: 2 results, 1 error, from the webhook node', async () => {
      sim.configure({ failureShape: shape, webhookWrap: shape === 'item' ? 'bare' : 'data' });
      await start({ payloads: [{ positivePrompt: 'three takes by webhook [sim:fail:2]', numberResults: 3 }], delivery: 'webhook' });
      await until('2 results and 1 error', () => got('/result').length === 2 && got('/error').length === 1);
      const e = got('/error')[0];
      assert.strictEqual(e.error.code, 'provider');
      assert.strictEqual(e.error.source.id, 'sh' + run + '.hook');
      await sleep(1500); // the webhook failure triggers one confirming poll: still nothing twice
      assert.strictEqual(got('/result').length + got('/error').length, 3);
    });
  }

  it('a whole task failing (errors[] entry, nothing pending) → one error per generation, then the task ends', async () => {
    await start({ payloads: [{ positivePrompt: 'all fail [sim:fail]', numberResults: 2 }] });
    await until('2 errors', () => got('/error').length === 2);
    await until('complete', () => got('/complete').length === 1);
    assert.strictEqual(got('/result').length, 0);
  });

  for (const mode of ['refuse', 'partial']) {
    it(
      'getResponse batches ' +
        (mode === 'refuse' ? 'refused (4xx naming no task)' : 'answered in part') +
        ': every task still delivered, the batch size learned',
      async () => {
        sim.configure({ maxBatch: 2, batchOverLimit: mode, renderMs: 600 });
        const logBefore = red.log().length;
        await start({ payloads: Array.from({ length: 6 }, (_, i) => 'batch ' + mode + ' ' + i) });
        await until('6 results', () => got('/result').length === 6, 40000);
        assert.strictEqual(got('/error').length, 0, JSON.stringify(got('/error')));
        assert.match(red.log().slice(logBefore), /polling in batches of \d+ from now on/);
      },
    );
  }

  it('a 5xx for a whole batch, its body naming a non-retryable code: transient, polling goes on, all delivered', async () => {
    await start({ payloads: ['five-x-x a', 'five-x-x b', 'five-x-x c'] });
    await until('3 acks', () => Object.keys(sim.stats().acceptedByUUID).length === 3);
    sim.queueAnswers([0, 1, 2, 3].map(() => ({ status: 503, body: { errors: [{ code: 'invalidApiKey', message: 'not really' }] } })));
    await until('3 results', () => got('/result').length === 3);
    assert.strictEqual(got('/error').length, 0, JSON.stringify(got('/error')));
  });

  it('an errors[] entry without taskUUID in a batched answer: those tasks are asked again one by one, nothing is failed', async () => {
    await start({ payloads: ['no uuid a', 'no uuid b'] });
    await until('2 acks', () => Object.keys(sim.stats().acceptedByUUID).length === 2);
    sim.queueAnswers([{ status: 200, body: { data: [], errors: [{ code: 'someInternalHiccup', message: 'x' }] } }]);
    await until('2 results', () => got('/result').length === 2);
    assert.strictEqual(got('/error').length, 0, JSON.stringify(got('/error')));
  });

  it('a lost acknowledgment, then the resend refused under an unknown code (409 conflictTaskAlreadyExists): exactly one task at Runware, one result', async () => {
    sim.configure({ duplicateAnswer: { status: 409, code: 'conflictTaskAlreadyExists' } });
    // the submit is accepted and its answer lost; the getResponse probe fails; the resend is refused.
    sim.queueFaults(['reset', '503']);
    await start({ payloads: ['lost ack'] });
    await until('1 result', () => got('/result').length === 1);
    await sleep(800);
    const accepted = Object.values(sim.stats().acceptedByUUID);
    assert.deepStrictEqual(accepted, [1], 'one task at Runware');
    assert.strictEqual(got('/result').length, 1);
    assert.strictEqual(got('/error').length, 0, JSON.stringify(got('/error')));
  });

  it('... and when Runware cannot be asked after the refusal either: the job is kept and polled, still one result', async () => {
    sim.configure({ duplicateAnswer: { status: 409, code: 'conflictTaskAlreadyExists' } });
    sim.queueFaults(['reset', '503', 'none', '503']);
    await start({ payloads: ['lost ack, probe lost too'] });
    await until('1 result', () => got('/result').length === 1);
    assert.deepStrictEqual(Object.values(sim.stats().acceptedByUUID), [1]);
    assert.match(red.log(), /may have reached Runware/);
  });

  it('webhooks with other Content-Types (text/plain, octet-stream, none, form) are accepted, emitted once, seeds beyond 2^53 exact', async () => {
    await deploy(red, flow({ payloads: [], delivery: 'webhook' }));
    await sleep(300);
    const types = ['text/plain', 'application/octet-stream', '', 'application/x-www-form-urlencoded'];
    for (const type of types) {
      const uuid = crypto.randomUUID();
      const body =
        '{"data":[{"taskType":"videoInference","taskUUID":"' +
        uuid +
        '","status":"success","videoUUID":"' +
        crypto.randomUUID() +
        '","videoURL":"https://cdn.example/v.mp4","seed":9223372036854775807}]}';
      const r = await request('POST', red.url + '/sh/hook?token=' + TOKEN, { headers: type ? { 'Content-Type': type } : { 'Content-Type': '' }, body });
      assert.strictEqual(r.status, 200, type + ': ' + r.body);
    }
    await until('4 results', () => got('/result').length === 4);
    for (const r of got('/result')) assert.strictEqual(r.item.seed, '9223372036854775807', 'exact seed (a decimal string above 2^53)');
  });

  it('an error body naming no task is answered 2xx and logged; nothing is emitted', async () => {
    await deploy(red, flow({ payloads: [], delivery: 'webhook' }));
    await sleep(300);
    const before = red.log().length;
    const r = await request('POST', red.url + '/sh/hook?token=' + TOKEN, { body: { errors: [{ code: 'unknownThing', message: 'no task here' }] } });
    assert.strictEqual(r.status, 200);
    await sleep(300);
    assert.match(red.log().slice(before), /names no task \(unknownThing/);
    assert.strictEqual(got('/result').length + got('/error').length, 0);
  });

  it('"taskFailedOrNotFound" for an acknowledged task is not ignored: a notFound error through Catch after a confirming answer', async () => {
    sim.configure({ renderMs: 60000 });
    await start({ payloads: ['vanishes'] });
    await until('1 ack', () => Object.keys(sim.stats().acceptedByUUID).length === 1);
    const uuid = Object.keys(sim.stats().acceptedByUUID)[0];
    sim.queueAnswers(
      Array.from({ length: 40 }, () => ({ status: 400, body: { errors: [{ code: 'taskFailedOrNotFound', message: 'gone', taskUUID: uuid }] } })),
    );
    await until('the error', () => got('/error').length === 1, 20000);
    const e = got('/error')[0];
    assert.strictEqual(e.error.code, 'notFound');
    assert.strictEqual(e.error.cause.rawCode, 'taskFailedOrNotFound');
    assert.match(red.log(), /which it had acknowledged: asking again/);
  });

  it("Runware's error details (documentation, allowedValues, min, max, type, parameter) reach msg.error.cause", async () => {
    const details = {
      code: 'invalidFps',
      message: 'fps out of range',
      parameter: ['fps', 'steps'],
      type: 'integer',
      min: 1,
      max: 120,
      allowedValues: [24, 30],
      documentation: 'https://runware.ai/docs',
    };
    sim.queueAnswers([{ status: 400, body: (tasks) => ({ errors: [{ ...details, taskUUID: tasks[0] && tasks[0].taskUUID }] }) }]);
    await start({ payloads: ['details'] });
    await until('the error', () => got('/error').length === 1);
    const c = got('/error')[0].error.cause;
    assert.strictEqual(c.rawCode, 'invalidFps');
    assert.deepStrictEqual(c.parameter, ['fps', 'steps']);
    for (const k of ['type', 'min', 'max', 'allowedValues', 'documentation']) assert.deepStrictEqual(c[k], details[k], k);
  });

  it('text-to-video refused for a missing image (Runware marks inputs required for Ovi): the error says so in plain words', async () => {
    sim.configure({ requireInputs: true });
    await start({ payloads: ['no image'] });
    await until('the error', () => got('/error').length === 1);
    const e = got('/error')[0];
    assert.strictEqual(e.error.code, 'validation');
    assert.match(e.error.message, /Runware requires a start image for this model \(inputs\.image\): text-to-video was refused/);
  });
});
