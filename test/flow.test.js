'use strict';
// submit → poll end to end in a real Node-RED against the simulator over HTTP.
const assert = require('assert');
const { helper, useHarness, KEY, pipeline, load, collector, submittedTasks, apiRequests, sleep, PNG_B64 } = require('./helpers');

const MAX_SEED = '9223372036854775807';

describe('submit → poll end to end', function () {
  let sim;
  useHarness((s) => (sim = s));
  beforeEach(() => {
    sim.reset();
    sim.configure({ renderMs: 60, rejectBatchedPoll: false, retryAfterSeconds: 1 });
  });

  async function setup(opts) {
    await load(pipeline(sim, opts));
    return { out: collector('out'), results: collector('results'), errors: collector('errors'), submit: helper.getNode('submit') };
  }

  function getResponseTasksPerRequest() {
    return apiRequests(sim)
      .map((r) => r.tasks.filter((t) => t && t.taskType === 'getResponse').length)
      .filter((n) => n > 0);
  }

  it('text → video: one result msg with the video URL, the submitting msg properties and a playable clip', async () => {
    const { out, results } = await setup();
    helper.getNode('submit').receive({ payload: 'a fox in the snow', topic: 'doorbell', user: { room: 'hall' } });
    const [ack] = await out.next(1);
    assert.match(ack.taskUUID, /^[0-9a-f-]{36}$/);
    assert.deepStrictEqual(ack.payload, { taskType: 'videoInference', taskUUID: ack.taskUUID });
    assert.strictEqual(ack.ovi.task.positivePrompt, 'a fox in the snow');
    const [r] = await results.next(1);
    assert.strictEqual(r.taskUUID, ack.taskUUID);
    assert.strictEqual(r.topic, 'doorbell');
    assert.deepStrictEqual(r.user, { room: 'hall' });
    assert.strictEqual(r.payload.status, 'success');
    assert.match(r.payload.videoURL, /\/media\/[0-9a-f-]{36}\.mp4$/);
    assert.strictEqual(r.mimetype, 'video/mp4');
    assert.strictEqual(r.filename, r.payload.videoUUID + '.mp4');
    assert.strictEqual(r.parts, undefined, 'one result: no parts');
    const res = await fetch(r.payload.videoURL);
    assert.strictEqual(res.status, 200);
    assert.strictEqual(res.headers.get('content-type'), 'video/mp4');
    const bytes = Buffer.from(await res.arrayBuffer());
    assert.strictEqual(bytes.subarray(4, 8).toString('latin1'), 'ftyp', 'an MP4 file');
    assert.strictEqual(sim.stats().submits, 1);
  });

  it('seed 2^63-1 goes out as the exact integer and comes back exact in msg.payload.seed', async () => {
    const { results } = await setup({ submit: { seed: MAX_SEED } });
    helper.getNode('submit').receive({ payload: 'seeded' });
    const [r] = await results.next(1);
    const raw = apiRequests(sim).find((x) => x.bodyText.includes('videoInference')).bodyText;
    assert.ok(raw.includes('"seed":' + MAX_SEED + ','), raw);
    assert.strictEqual(r.payload.seed, MAX_SEED, 'a seed above 2^53 comes back as its exact decimal string');
  });

  it('seed as a BigInt in msg.payload, and as a safe number', async () => {
    const { results } = await setup();
    helper.getNode('submit').receive({ payload: { positivePrompt: 'big', seed: 9223372036854775806n } });
    helper.getNode('submit').receive({ payload: { positivePrompt: 'small', seed: 42 } });
    const rs = await results.next(2);
    const seeds = rs.map((r) => r.payload.seed).sort();
    assert.deepStrictEqual(seeds, [42, '9223372036854775806']);
    const raws = apiRequests(sim)
      .filter((x) => x.bodyText.includes('videoInference'))
      .map((x) => x.bodyText)
      .join('\n');
    assert.ok(raws.includes('"seed":9223372036854775806'));
    assert.ok(raws.includes('"seed":42'));
  });

  it('a Buffer on msg.image becomes a PNG data URI in inputs.image', async () => {
    const { results } = await setup();
    helper.getNode('submit').receive({ payload: 'animate this', image: Buffer.from(PNG_B64, 'base64') });
    await results.next(1);
    const [task] = submittedTasks(sim);
    assert.strictEqual(task.inputs.image, 'data:image/png;base64,' + PNG_B64);
  });

  it('a Buffer that is not an image, or too large, is refused with zero requests', async () => {
    const { errors } = await setup();
    helper.getNode('submit').receive({ payload: 'x', image: Buffer.from('GIF89a-not-supported-here') });
    helper.getNode('submit').receive({ payload: 'x', image: Buffer.concat([Buffer.from(PNG_B64, 'base64'), Buffer.alloc(11 * 1024 * 1024)]) });
    const [a, b] = await errors.next(2);
    assert.match(a.error.message, /msg\.image is not a PNG, JPEG or WEBP image/);
    assert.match(b.error.message, /msg\.image is 11 MiB, more than the 10 MiB allowed/);
    assert.strictEqual(apiRequests(sim).length, 0);
  });

  it('numberResults 3 → three msgs with parts for a join node, distinct seeds', async () => {
    const { results } = await setup({ submit: { numberResults: 3 } });
    helper.getNode('submit').receive({ payload: 'three takes', topic: 'multi' });
    const rs = await results.next(3);
    const uuid = rs[0].taskUUID;
    assert.deepStrictEqual(rs.map((r) => r.parts.index).sort(), [0, 1, 2]);
    for (const r of rs) {
      assert.strictEqual(r.parts.id, uuid);
      assert.strictEqual(r.parts.count, 3);
      assert.strictEqual(r.topic, 'multi');
    }
    assert.strictEqual(new Set(rs.map((r) => r.payload.seed)).size, 3);
    assert.strictEqual(new Set(rs.map((r) => r.payload.videoUUID)).size, 3);
    await sleep(150);
    assert.strictEqual(results.msgs.length, 3, 'no extra msgs');
  });

  it('a failed generation → done(err) with msg.error code and taskUUID, never a resubmit', async () => {
    const { errors, results } = await setup();
    helper.getNode('submit').receive({ payload: 'this will fail [sim:fail]', topic: 'f' });
    const [e] = await errors.next(1);
    assert.strictEqual(e.error.code, 'provider');
    assert.strictEqual(e.error.cause.rawCode, 'inferenceError');
    assert.strictEqual(e.error.cause.retryable, true);
    assert.match(e.error.cause.taskUUID, /^[0-9a-f-]{36}$/);
    assert.strictEqual(e.taskUUID, e.error.cause.taskUUID);
    assert.strictEqual(e.topic, 'f');
    assert.strictEqual(e.error.source.id, 'poll');
    assert.strictEqual(results.msgs.length, 0);
    assert.strictEqual(sim.stats().submits, 1);
  });

  it('a content-policy failure routes as safety', async () => {
    const { errors } = await setup();
    helper.getNode('submit').receive({ payload: 'blocked [sim:safety]' });
    const [e] = await errors.next(1);
    assert.strictEqual(e.error.code, 'safety');
  });

  it('429 with Retry-After, then success: waits as told, same taskUUID, one job', async () => {
    const { results } = await setup();
    const { parseLossless } = require('../dist/nodes/lib/lossless-json.js');
    sim.queueFaults(['429']);
    helper.getNode('submit').receive({ payload: 'rate limited once' });
    const [r] = await results.next(1);
    const submits = apiRequests(sim).filter((x) => x.bodyText.includes('videoInference'));
    assert.strictEqual(submits[0].status, 429);
    assert.strictEqual(submits[1].status, 200);
    assert.ok(submits[1].at - submits[0].at >= 950, 'Retry-After: 1 honoured, waited ' + (submits[1].at - submits[0].at) + ' ms');
    const uuids = submits.map((x) => parseLossless(x.bodyText)[0].taskUUID);
    assert.strictEqual(uuids[0], uuids[1], 'a retry keeps the taskUUID');
    assert.deepStrictEqual(Object.values(sim.stats().acceptedByUUID), [1]);
    assert.strictEqual(r.taskUUID, uuids[0]);
  });

  it('a burst of 500s, then success: retried with backoff, one job', async () => {
    const { results } = await setup();
    sim.queueFaults(['500', '503', '502']);
    helper.getNode('submit').receive({ payload: 'server trouble' });
    await results.next(1);
    // Between attempts the client asks getResponse whether a 5xx hid an acceptance (that probe
    // takes one of the queued faults), then resends under the same taskUUID.
    const statuses = apiRequests(sim)
      .filter((x) => x.bodyText.includes('videoInference'))
      .map((x) => x.status);
    assert.strictEqual(statuses[0], 500);
    assert.strictEqual(statuses[statuses.length - 1], 200);
    assert.ok(statuses.length >= 3, 'retried through the burst: ' + statuses.join(','));
    assert.deepStrictEqual(Object.values(sim.stats().acceptedByUUID), [1]);
  });

  it('a lost response (connection reset after acceptance) is settled by getResponse, not a second job', async () => {
    const { results } = await setup();
    sim.queueFaults(['reset']);
    helper.getNode('submit').receive({ payload: 'lost ack' });
    await results.next(1);
    assert.deepStrictEqual(Object.values(sim.stats().acceptedByUUID), [1]);
    assert.strictEqual(sim.stats().duplicateRejections, 0, 'the probe found the task: no resend at all');
  });

  it('a garbled (malformed JSON) acknowledgment is settled the same way', async () => {
    const { results } = await setup();
    sim.queueFaults(['malformed']);
    helper.getNode('submit').receive({ payload: 'garbled ack' });
    await results.next(1);
    assert.deepStrictEqual(Object.values(sim.stats().acceptedByUUID), [1]);
  });

  it('the deadline: a timeout failure with the taskUUID and how to resume, no resubmit', async () => {
    sim.configure({ renderMs: 5000 });
    const { errors, results } = await setup({ poll: { timeout: 0.4 } });
    helper.getNode('submit').receive({ payload: 'slow render' });
    const [e] = await errors.next(1, 5000);
    assert.strictEqual(e.error.code, 'timeout');
    assert.match(e.error.message, /send \{taskUUID: "[0-9a-f-]{36}"\} to an ovi poll node/);
    assert.strictEqual(e.error.cause.taskUUID, e.taskUUID);
    assert.strictEqual(results.msgs.length, 0);
    assert.strictEqual(sim.stats().submits, 1);
  });

  it('msg.timeout (seconds) overrides the poll node deadline', async () => {
    sim.configure({ renderMs: 5000 });
    await load(pipeline(sim, { poll: { timeout: 600 } }));
    const errors = collector('errors');
    // straight into the poll node: a task submitted elsewhere, with its own short deadline
    const { RunwareClient } = require('../dist/nodes/lib/runware-client.js');
    const client = new RunwareClient({ endpoint: sim.url, apiKey: () => KEY, timeoutMs: 2000, retry: { retries: 0, baseMs: 1, maxMs: 1 } });
    const uuid = require('crypto').randomUUID();
    await client.submit({ taskType: 'videoInference', taskUUID: uuid, model: 'runware:190@1', positivePrompt: 'x', deliveryMethod: 'async' });
    client.close();
    helper.getNode('poll').receive({ taskUUID: uuid, timeout: 0.3 });
    const [e] = await errors.next(1, 4000);
    assert.strictEqual(e.error.code, 'timeout');
  });

  it('a task submitted elsewhere is collected by taskUUID alone', async () => {
    await load(pipeline(sim));
    const results = collector('results');
    const { RunwareClient } = require('../dist/nodes/lib/runware-client.js');
    const client = new RunwareClient({ endpoint: sim.url, apiKey: () => KEY, timeoutMs: 2000, retry: { retries: 0, baseMs: 1, maxMs: 1 } });
    const uuid = require('crypto').randomUUID();
    await client.submit({ taskType: 'videoInference', taskUUID: uuid, model: 'runware:190@1', positivePrompt: 'x', deliveryMethod: 'async' });
    client.close();
    helper.getNode('poll').receive({ taskUUID: uuid, topic: 'resumed' });
    const [r] = await results.next(1);
    assert.strictEqual(r.taskUUID, uuid);
    assert.strictEqual(r.topic, 'resumed');
  });

  it('ovi poll refuses a msg without a valid taskUUID', async () => {
    await load(pipeline(sim));
    const errors = collector('errors');
    helper.getNode('poll').receive({ payload: 'no uuid' });
    const [e] = await errors.next(1);
    assert.strictEqual(e.error.code, 'validation');
    assert.match(e.error.message, /msg\.taskUUID must be the UUID of a submitted task/);
  });

  it('tasks in flight share one batched getResponse per tick', async () => {
    sim.configure({ renderMs: 400 });
    const { results } = await setup({ poll: { initialDelay: 0.1, maxInterval: 0.1 } });
    for (let i = 0; i < 6; i++) helper.getNode('submit').receive({ payload: 'batch ' + i });
    await results.next(6);
    const perRequest = getResponseTasksPerRequest();
    assert.ok(Math.max(...perRequest) >= 6, 'one request carried all six tasks: ' + perRequest.join(','));
    const polls = perRequest.length;
    assert.ok(polls < 6 * 3, 'far fewer getResponse requests than tasks × ticks: ' + polls);
  });

  it('falls back to one getResponse per task when Runware refuses a batch', async () => {
    sim.configure({ renderMs: 200, rejectBatchedPoll: true });
    const { results } = await setup({ poll: { initialDelay: 0.05, maxInterval: 0.05 } });
    for (let i = 0; i < 3; i++) helper.getNode('submit').receive({ payload: 'unbatched ' + i });
    const rs = await results.next(3);
    assert.strictEqual(new Set(rs.map((r) => r.taskUUID)).size, 3);
  });

  it('a wrong API key fails fast as auth, is not retried, and the key is nowhere in the error', async () => {
    await load(pipeline(sim), { cfg: { apiKey: 'wrong-key-abcdef' } });
    const errors = collector('errors');
    helper.getNode('submit').receive({ payload: 'x' });
    const [e] = await errors.next(1);
    assert.strictEqual(e.error.code, 'auth');
    assert.strictEqual(e.error.cause.retryable, false);
    assert.strictEqual(apiRequests(sim).length, 1, 'auth errors are not retried');
    assert.ok(!JSON.stringify(e).includes('wrong-key-abcdef'));
  });

  it('the API key falls back to RUNWARE_API_KEY', async () => {
    process.env.RUNWARE_API_KEY = KEY;
    try {
      await load(pipeline(sim), {});
      const results = collector('results');
      helper.getNode('submit').receive({ payload: 'env key' });
      await results.next(1);
    } finally {
      delete process.env.RUNWARE_API_KEY;
    }
  });

  it('a taskUUID already in flight is not submitted again', async () => {
    sim.configure({ renderMs: 500 });
    const { errors, results } = await setup();
    const taskUUID = require('crypto').randomUUID();
    helper.getNode('submit').receive({ payload: 'once', taskUUID });
    await sleep(50);
    helper.getNode('submit').receive({ payload: 'twice', taskUUID });
    const [e] = await errors.next(1);
    assert.match(e.error.message, /already in flight/);
    await results.next(1);
    assert.strictEqual(sim.stats().submits, 1);
  });

  it('30 submits at once: all delivered, no MaxListenersExceededWarning', async () => {
    const warnings = [];
    const onWarning = (w) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const { results } = await setup();
      for (let i = 0; i < 30; i++) helper.getNode('submit').receive({ payload: 'burst ' + i });
      const rs = await results.next(30, 15000);
      assert.strictEqual(new Set(rs.map((r) => r.taskUUID)).size, 30);
      await sleep(20);
      assert.ok(!warnings.includes('MaxListenersExceededWarning'), warnings.join(','));
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('the poll node shows its phase in node.status', async () => {
    sim.configure({ renderMs: 1300 });
    const { results } = await setup({ poll: { initialDelay: 0.05 } });
    const statuses = [];
    helper.getNode('poll').on('call:status', (call) => statuses.push(call.args[0]));
    helper.getNode('submit').receive({ payload: 'status' });
    await results.next(1, 6000);
    assert.ok(
      statuses.some((s) => /^0:0\d/.test(s.text || '')), // the time waited so far
      JSON.stringify(statuses),
    );
    assert.ok(
      statuses.some((s) => /^done /.test(s.text || '')),
      JSON.stringify(statuses),
    );
  });
});
