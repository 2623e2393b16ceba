'use strict';
// Black-box tests of the Runware simulator over real HTTP on 127.0.0.1 (build first: node scripts/build.js).
const assert = require('assert/strict');
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');
const { spawn, spawnSync } = require('child_process');
const { createSimulator } = require('../dist/simulator/server.js');

const KEY = 'sim-key';
const DOCS = 'https://runware.ai/docs/en/video-inference/api-reference';
const MEDIA_DIR = path.join(__dirname, '..', 'simulator', 'media');
const fixture = (ext) => fs.readFileSync(path.join(MEDIA_DIR, `ovi-sample.${ext}`));
const uuid = () => crypto.randomUUID();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function task(over = {}) {
  return {
    taskType: 'videoInference',
    taskUUID: uuid(),
    model: 'runware:190@1',
    positivePrompt: 'A cat on a sofa says <S>hello there<E> <AUDCAP>purring<ENDAUDCAP>',
    deliveryMethod: 'async',
    ...over,
  };
}
const poll = (taskUUID) => ({ taskType: 'getResponse', taskUUID });

let sims = [];
let closers = [];
async function start(options = {}) {
  const sim = await createSimulator({ renderMs: 0, ...options });
  sims.push(sim);
  return sim;
}

async function api(sim, body, { key = KEY, signal, url = sim.url } = {}) {
  const headers = { 'Content-Type': 'application/json' };
  if (key !== null) headers.Authorization = `Bearer ${key}`;
  const res = await fetch(url, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body), signal });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

async function waitFor(fn, { timeout = 4000, interval = 10 } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > end) throw new Error('waitFor: condition not met in time');
    await sleep(interval);
  }
}

/** A webhook / upload receiver; `respond(hit, n)` picks the status of the n-th hit. */
async function receiver(respond = () => 200) {
  const hits = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const hit = { method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks), at: Date.now() };
      hits.push(hit);
      res.writeHead(respond(hit, hits.length));
      res.end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const r = {
    url: `http://127.0.0.1:${server.address().port}`,
    hits,
    close: () =>
      new Promise((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
  closers.push(r.close);
  return r;
}

async function getResult(sim, taskUUID) {
  return waitFor(async () => {
    const r = await api(sim, [poll(taskUUID)]);
    return r.status === 200 && r.json.data && r.json.data.every((i) => i.status === 'success') && r.json.data.length > 0 ? r : null;
  });
}

// Inside one outer suite, so this hook does not become a root hook for every test file of the run.
describe('Runware simulator', () => {
  afterEach(async () => {
    await Promise.all(sims.map((s) => s.close()));
    await Promise.all(closers.map((c) => c()));
    sims = [];
    closers = [];
  });

  describe('simulator: transport, auth and envelope', () => {
    it('answers GET /health with {"ok":true}', async () => {
      const sim = await start();
      const res = await fetch(`${sim.baseUrl}/health`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { ok: true });
      assert.equal(sim.url, `${sim.baseUrl}/v1`);
      assert.match(sim.baseUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    });

    it('rejects a missing or wrong API key with 401 invalidApiKey and never echoes a key', async () => {
      const sim = await start();
      for (const key of [null, 'wrong-secret-xyz']) {
        const r = await api(sim, [task()], { key });
        assert.equal(r.status, 401);
        assert.equal(r.json.errors.length, 1);
        assert.equal(r.json.errors[0].code, 'invalidApiKey');
        assert.equal(r.json.errors[0].type, 'authentication');
        assert.match(r.json.errors[0].message, /^Invalid API key\./);
        assert.ok(!r.text.includes('wrong-secret-xyz'));
      }
      assert.equal(sim.stats().submits, 0, 'an unauthenticated task is not processed');
      const log = JSON.stringify(sim.requests());
      assert.ok(!log.includes('wrong-secret-xyz') && !log.includes(KEY), 'keys stay out of the request log');
      const cfg = await (await fetch(`${sim.baseUrl}/__sim/config`)).text();
      assert.ok(!cfg.includes(KEY), 'keys stay out of the config view');
    });

    it('accepts every configured key, and POST / as well as POST /v1', async () => {
      const sim = await start({ apiKeys: ['k-one', 'k-two'] });
      assert.equal((await api(sim, [task()], { key: 'k-one' })).status, 200);
      assert.equal((await api(sim, [task()], { key: 'k-two', url: `${sim.baseUrl}/` })).status, 200);
      assert.equal((await api(sim, [task()], { key: KEY })).status, 401);
    });

    it('rejects a body that is not JSON (invalidJSON), not an array or empty (invalidRequestBody)', async () => {
      const sim = await start();
      const bad = await api(sim, '[{"taskType": ');
      assert.equal(bad.status, 400);
      assert.equal(bad.json.errors[0].code, 'invalidJSON');
      for (const body of ['{"taskType":"getResponse"}', '[]', '"x"', 'null']) {
        const r = await api(sim, body);
        assert.equal(r.status, 400, body);
        assert.equal(r.json.errors[0].code, 'invalidRequestBody', body);
      }
    });

    it('answers 413 with an errors body when the body exceeds maxBodyBytes', async () => {
      const sim = await start({ maxBodyBytes: 200 });
      const r = await api(sim, [task({ positivePrompt: 'x'.repeat(500) })]);
      assert.equal(r.status, 413);
      assert.equal(r.json.errors[0].code, 'payloadTooLarge');
      assert.equal(sim.stats().submits, 0);
      const ok = await api(sim, [poll(uuid())]);
      assert.equal(ok.status, 400, 'the simulator keeps serving');
    });

    it('answers 405 to GET /v1 and 404 to unknown routes, with errors bodies', async () => {
      const sim = await start();
      const r1 = await fetch(sim.url);
      assert.equal(r1.status, 405);
      assert.equal((await r1.json()).errors[0].code, 'methodNotAllowed');
      const r2 = await fetch(`${sim.baseUrl}/nope`);
      assert.equal(r2.status, 404);
      assert.equal((await r2.json()).errors[0].code, 'notFound');
    });
  });

  describe('simulator: videoInference submit', () => {
    it('acknowledges a valid task with exactly {taskType, taskUUID} and counts it', async () => {
      const sim = await start();
      const t = task();
      const r = await api(sim, [t]);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, { data: [{ taskType: 'videoInference', taskUUID: t.taskUUID }] });
      const stats = sim.stats();
      assert.equal(stats.submits, 1);
      assert.deepEqual(stats.acceptedByUUID, { [t.taskUUID]: 1 });
      assert.equal(stats.jobs, 1);
    });

    it('refuses a resubmitted taskUUID with duplicateTaskUUID and never starts a second job', async () => {
      const sim = await start();
      const t = task();
      assert.equal((await api(sim, [t])).status, 200);
      const again = await api(sim, [t]);
      assert.equal(again.status, 400);
      assert.equal(again.json.errors.length, 1);
      assert.deepEqual(
        { ...again.json.errors[0], message: undefined },
        {
          code: 'duplicateTaskUUID',
          message: undefined,
          parameter: 'taskUUID',
          type: 'string',
          taskType: 'videoInference',
          taskUUID: t.taskUUID,
          documentation: DOCS,
        },
      );
      const twice = task();
      const same = await api(sim, [twice, twice]);
      assert.equal(same.status, 200, 'one accepted, one refused: mixed');
      assert.deepEqual(same.json.data, [{ taskType: 'videoInference', taskUUID: twice.taskUUID }]);
      assert.equal(same.json.errors[0].code, 'duplicateTaskUUID');
      const stats = sim.stats();
      assert.equal(stats.acceptedByUUID[t.taskUUID], 1);
      assert.equal(stats.acceptedByUUID[twice.taskUUID], 1);
      assert.equal(stats.duplicateRejections, 2);
      assert.equal(stats.jobs, 2);
      assert.equal(stats.submits, 4);
    });

    it('accepts every field of the Ovi task at valid values', async () => {
      const sim = await start();
      const t = task({
        fps: 120,
        seed: 0,
        steps: 100,
        outputType: 'URL',
        outputFormat: 'MOV',
        outputQuality: 20,
        webhookURL: 'https://example.com/hook?token=abc',
        uploadEndpoint: 'https://bucket.example.com/x.mov?X-Amz-Signature=1',
        safety: { checkContent: true, mode: 'full' },
        ttl: 60,
        includeCost: false,
        numberResults: 4,
        acceleratorOptions: {
          cacheStartStep: 0,
          cacheEndStep: 100,
          cacheMaxConsecutiveSteps: 5,
          teaCache: true,
          teaCacheDistance: 0.25,
        },
        inputs: { image: 'https://example.com/cat.png' },
        advancedFeatures: { audioCFGScale: 0, videoCFGScale: 10, slgLayer: null, audioNegativePrompt: 'noise', videoNegativePrompt: '' },
      });
      const r = await api(sim, [t]);
      assert.equal(r.status, 200, r.text);
      const pct = task({ acceleratorOptions: { cacheStartStepPercentage: 0, cacheEndStepPercentage: 100 }, advancedFeatures: { slgLayer: 30 } });
      assert.equal((await api(sim, [pct])).status, 200);
    });

    for (const [label, image] of [
      ['an image UUID', '6ec9bd2e-3e38-4d32-8a83-2a7fbfa1f9c9'],
      ['an http URL', 'http://example.com/a.jpg'],
      ['a data URI', 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=='],
      ['plain base64', 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB'],
    ]) {
      it(`accepts inputs.image as ${label}`, async () => {
        const sim = await start();
        assert.equal((await api(sim, [task({ inputs: { image } })])).status, 200);
      });
    }

    it('accepts the largest seed as an exact JSON integer and a seed as a decimal string', async () => {
      const sim = await start();
      const t = task();
      const body = JSON.stringify([{ ...t, seed: 'SEED' }]).replace('"SEED"', '9223372036854775807');
      assert.equal((await api(sim, body)).status, 200);
      assert.equal((await api(sim, [task({ seed: '123' })])).status, 200);
      const over = JSON.stringify([{ ...task(), seed: 'SEED' }]).replace('"SEED"', '9223372036854775808');
      const r = await api(sim, over);
      assert.equal(r.status, 400);
      assert.equal(r.json.errors[0].code, 'invalidSeed');
    });

    const cases = [
      ['steps 0', { steps: 0 }, 'invalidSteps', 'steps'],
      ['steps 101', { steps: 101 }, 'invalidSteps', 'steps'],
      ['steps 1.5', { steps: 1.5 }, 'invalidSteps', 'steps'],
      ['fps 0', { fps: 0 }, 'invalidFps', 'fps'],
      ['fps 121', { fps: 121 }, 'invalidFps', 'fps'],
      ['fps null', { fps: null }, 'invalidFps', 'fps'],
      ['another model', { model: 'runware:100@1' }, 'invalidModel', 'model'],
      ['an empty prompt', { positivePrompt: '' }, 'invalidPositivePrompt', 'positivePrompt'],
      ['a prompt that is not a string', { positivePrompt: 42 }, 'invalidPositivePrompt', 'positivePrompt'],
      ['no prompt', { positivePrompt: undefined }, 'missingPositivePrompt', 'positivePrompt'],
      ['no model', { model: undefined }, 'missingModel', 'model'],
      ['a taskUUID that is no UUID', { taskUUID: 'abc' }, 'invalidTaskUUID', 'taskUUID'],
      ['no taskUUID', { taskUUID: undefined }, 'missingTaskUUID', 'taskUUID'],
      ['outputType base64Data', { outputType: 'base64Data' }, 'invalidOutputType', 'outputType'],
      ['outputFormat GIF', { outputFormat: 'GIF' }, 'invalidOutputFormat', 'outputFormat'],
      ['outputFormat lower case', { outputFormat: 'mp4' }, 'invalidOutputFormat', 'outputFormat'],
      ['outputQuality 19', { outputQuality: 19 }, 'invalidOutputQuality', 'outputQuality'],
      ['outputQuality 100', { outputQuality: 100 }, 'invalidOutputQuality', 'outputQuality'],
      ['an ftp webhookURL', { webhookURL: 'ftp://example.com/x' }, 'invalidWebhookURL', 'webhookURL'],
      ['a webhookURL that is no URL', { webhookURL: 'not a url' }, 'invalidWebhookURL', 'webhookURL'],
      ['a javascript: uploadEndpoint', { uploadEndpoint: 'javascript:alert(1)' }, 'invalidUploadEndpoint', 'uploadEndpoint'],
      ['deliveryMethod sync', { deliveryMethod: 'sync' }, 'invalidDeliveryMethod', 'deliveryMethod'],
      ['safety.mode strict', { safety: { mode: 'strict' } }, 'invalidMode', 'safety.mode'],
      ['safety.checkContent "yes"', { safety: { checkContent: 'yes' } }, 'invalidCheckContent', 'safety.checkContent'],
      ['safety not an object', { safety: 'full' }, 'invalidSafety', 'safety'],
      ['ttl 59', { ttl: 59 }, 'invalidTtl', 'ttl'],
      ['includeCost "true"', { includeCost: 'true' }, 'invalidIncludeCost', 'includeCost'],
      ['numberResults 0', { numberResults: 0 }, 'invalidNumberResults', 'numberResults'],
      ['numberResults 5', { numberResults: 5 }, 'invalidNumberResults', 'numberResults'],
      ['seed -1', { seed: -1 }, 'invalidSeed', 'seed'],
      ['seed 1.5', { seed: 1.5 }, 'invalidSeed', 'seed'],
      ['seed "12a"', { seed: '12a' }, 'invalidSeed', 'seed'],
      ['cacheStartStep -1', { acceleratorOptions: { cacheStartStep: -1 } }, 'invalidCacheStartStep', 'acceleratorOptions.cacheStartStep'],
      ['cacheEndStep 0', { acceleratorOptions: { cacheEndStep: 0 } }, 'invalidCacheEndStep', 'acceleratorOptions.cacheEndStep'],
      [
        'cacheStartStepPercentage 100',
        { acceleratorOptions: { cacheStartStepPercentage: 100 } },
        'invalidCacheStartStepPercentage',
        'acceleratorOptions.cacheStartStepPercentage',
      ],
      [
        'cacheEndStepPercentage 0',
        { acceleratorOptions: { cacheEndStepPercentage: 0 } },
        'invalidCacheEndStepPercentage',
        'acceleratorOptions.cacheEndStepPercentage',
      ],
      [
        'cacheMaxConsecutiveSteps 6',
        { acceleratorOptions: { cacheMaxConsecutiveSteps: 6 } },
        'invalidCacheMaxConsecutiveSteps',
        'acceleratorOptions.cacheMaxConsecutiveSteps',
      ],
      ['teaCache 1', { acceleratorOptions: { teaCache: 1 } }, 'invalidTeaCache', 'acceleratorOptions.teaCache'],
      ['teaCacheDistance 1.5', { acceleratorOptions: { teaCacheDistance: 1.5 } }, 'invalidTeaCacheDistance', 'acceleratorOptions.teaCacheDistance'],
      ['audioCFGScale -1', { advancedFeatures: { audioCFGScale: -1 } }, 'invalidAudioCFGScale', 'advancedFeatures.audioCFGScale'],
      ['slgLayer 31', { advancedFeatures: { slgLayer: 31 } }, 'invalidSlgLayer', 'advancedFeatures.slgLayer'],
      ['videoNegativePrompt 5', { advancedFeatures: { videoNegativePrompt: 5 } }, 'invalidVideoNegativePrompt', 'advancedFeatures.videoNegativePrompt'],
      ['an image that is none of the forms', { inputs: { image: 'not an image!' } }, 'invalidImage', 'inputs.image'],
      ['an empty image', { inputs: { image: '' } }, 'invalidImage', 'inputs.image'],
      ['a data URI of a GIF', { inputs: { image: 'data:image/gif;base64,R0lGODlhAQABAAAAACw=' } }, 'invalidImage', 'inputs.image'],
      ['inputs without image', { inputs: {} }, 'missingImage', 'inputs.image'],
      ['an unknown top-level field', { width: 720 }, 'unknownParameter', 'width'],
      ['an unknown nested field', { advancedFeatures: { guidance: 1 } }, 'unknownParameter', 'advancedFeatures.guidance'],
      ['an unknown inputs field', { inputs: { image: 'https://example.com/a.png', audio: 'x' } }, 'unknownParameter', 'inputs.audio'],
    ];
    for (const [label, over, code, parameter] of cases) {
      it(`rejects ${label} with ${code} on ${parameter}`, async () => {
        const sim = await start();
        const t = task(over);
        const r = await api(sim, [t]);
        assert.equal(r.status, 400, r.text);
        assert.equal(r.json.data, undefined);
        assert.equal(r.json.errors.length, 1, r.text);
        const e = r.json.errors[0];
        assert.equal(e.code, code);
        assert.equal(e.parameter, parameter);
        assert.equal(e.taskType, 'videoInference');
        assert.equal(e.documentation, DOCS);
        if (typeof t.taskUUID === 'string') assert.equal(e.taskUUID, t.taskUUID);
        assert.equal(sim.stats().jobs, 0);
      });
    }

    it('writes the error object in full, with the documented message', async () => {
      const sim = await start();
      const t = task({ advancedFeatures: { videoCFGScale: 11 } });
      const r = await api(sim, [t]);
      assert.deepEqual(r.json, {
        errors: [
          {
            code: 'invalidVideoCFGScale',
            message: "Invalid value for 'advancedFeatures.videoCFGScale' parameter. Must be a number between 0 and 10.",
            parameter: 'advancedFeatures.videoCFGScale',
            type: 'number',
            taskType: 'videoInference',
            taskUUID: t.taskUUID,
            documentation: DOCS,
          },
        ],
      });
    });

    it('reports every problem of a task, one error each', async () => {
      const sim = await start();
      const r = await api(sim, [task({ steps: 0, fps: 500, foo: 1 })]);
      assert.equal(r.status, 400);
      assert.deepEqual(r.json.errors.map((e) => e.code).sort(), ['invalidFps', 'invalidSteps', 'unknownParameter']);
    });

    const A = (k) => `acceleratorOptions.${k}`;
    const rangeCases = [
      ['cacheStartStep >= cacheEndStep', { acceleratorOptions: { cacheStartStep: 10, cacheEndStep: 10 } }, [A('cacheStartStep'), A('cacheEndStep')]],
      [
        'cacheStartStepPercentage >= cacheEndStepPercentage',
        { acceleratorOptions: { cacheStartStepPercentage: 50, cacheEndStepPercentage: 40 } },
        [A('cacheStartStepPercentage'), A('cacheEndStepPercentage')],
      ],
      ['cacheEndStep beyond the default 30 steps', { acceleratorOptions: { cacheEndStep: 31 } }, [A('cacheEndStep'), 'steps']],
      ['cacheEndStep beyond steps', { steps: 20, acceleratorOptions: { cacheEndStep: 25 } }, [A('cacheEndStep'), 'steps']],
      ['both end forms', { acceleratorOptions: { cacheEndStep: 20, cacheEndStepPercentage: 80 } }, [A('cacheEndStep'), A('cacheEndStepPercentage')]],
      ['both start forms', { acceleratorOptions: { cacheStartStep: 2, cacheStartStepPercentage: 10 } }, [A('cacheStartStep'), A('cacheStartStepPercentage')]],
    ];
    for (const [label, over, parameter] of rangeCases) {
      it(`rejects ${label} with invalidCacheRange naming all fields`, async () => {
        const sim = await start();
        const r = await api(sim, [task(over)]);
        assert.equal(r.status, 400);
        assert.equal(r.json.errors.length, 1, r.text);
        assert.equal(r.json.errors[0].code, 'invalidCacheRange');
        assert.deepEqual(r.json.errors[0].parameter, parameter);
      });
    }

    it('allows cacheEndStep up to steps when steps is raised', async () => {
      const sim = await start();
      assert.equal((await api(sim, [task({ steps: 40, acceleratorOptions: { cacheStartStep: 5, cacheEndStep: 40 } })])).status, 200);
    });

    it('answers a mixed request 200 with data for the good task and errors for the bad one', async () => {
      const sim = await start();
      const good = task();
      const bad = task({ steps: 0 });
      const r = await api(sim, [good, bad]);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json.data, [{ taskType: 'videoInference', taskUUID: good.taskUUID }]);
      assert.equal(r.json.errors.length, 1);
      assert.equal(r.json.errors[0].taskUUID, bad.taskUUID);
    });

    it('refuses unknown task types, tasks without taskType and non-object tasks', async () => {
      const sim = await start();
      const id = uuid();
      const r = await api(sim, [{ taskType: 'imageInference', taskUUID: id }, { taskUUID: id }, 42]);
      assert.equal(r.status, 400);
      assert.deepEqual(
        r.json.errors.map((e) => e.code),
        ['unsupportedTaskType', 'missingTaskType', 'invalidTask'],
      );
      assert.equal(r.json.errors[0].taskUUID, id);
    });
  });

  describe('simulator: jobs and getResponse', () => {
    it('answers an unknown taskUUID with 400 taskFailedOrNotFound', async () => {
      const sim = await start();
      const id = uuid();
      const r = await api(sim, [poll(id)]);
      assert.equal(r.status, 400);
      assert.equal(r.json.errors.length, 1);
      assert.equal(r.json.errors[0].code, 'taskFailedOrNotFound');
      assert.equal(r.json.errors[0].taskUUID, id);
      assert.equal(typeof r.json.errors[0].message, 'string');
    });

    it('shows one processing placeholder, then partial results, then all results with seed+i and cost', async () => {
      const sim = await start({ renderMs: 300 });
      const t = task({ numberResults: 3, seed: 42, includeCost: true, outputFormat: 'WEBM' });
      await api(sim, [t]);
      const first = await api(sim, [poll(t.taskUUID)]);
      assert.equal(first.status, 200);
      assert.equal(first.json.data.length, 1);
      const ph = first.json.data[0];
      assert.deepEqual(Object.keys(ph).sort(), ['status', 'taskType', 'taskUUID'], 'no progress unless the knob is on');
      assert.equal(ph.status, 'processing');
      assert.equal(ph.taskUUID, t.taskUUID);
      // result 0 at 300 ms, 1 at 375 ms, 2 at 450 ms
      const partial = await waitFor(async () => {
        const r = await api(sim, [poll(t.taskUUID)], {});
        return r.json.data.some((i) => i.status === 'success') ? r : null;
      });
      const pending = partial.json.data.filter((i) => i.status === 'processing');
      const done = partial.json.data.filter((i) => i.status === 'success');
      assert.ok(done.length < 3 ? pending.length === 1 : pending.length === 0);
      const all = await getResult(sim, t.taskUUID);
      assert.equal(all.json.data.length, 3);
      assert.deepEqual(
        all.json.data.map((i) => i.seed),
        [42, 43, 44],
      );
      const ids = new Set();
      for (const item of all.json.data) {
        assert.deepEqual(Object.keys(item).sort(), ['cost', 'seed', 'status', 'taskType', 'taskUUID', 'videoURL', 'videoUUID']);
        assert.equal(item.taskType, 'videoInference');
        assert.equal(item.cost, 0.0437);
        assert.match(item.videoUUID, UUID_RE);
        assert.equal(item.videoURL, `${sim.baseUrl}/media/${item.videoUUID}.webm`);
        ids.add(item.videoUUID);
      }
      assert.equal(ids.size, 3);
      assert.deepEqual(
        done.map((i) => i.videoUUID),
        all.json.data.slice(0, done.length).map((i) => i.videoUUID),
        'finished items stay the same',
      );
    });

    it('omits cost without includeCost and picks distinct uint32 seeds when none is given', async () => {
      const sim = await start();
      const t = task({ numberResults: 4 });
      await api(sim, [t]);
      const r = await getResult(sim, t.taskUUID);
      assert.equal(r.json.data.length, 4);
      const seeds = r.json.data.map((i) => i.seed);
      for (const s of seeds) assert.ok(Number.isInteger(s) && s >= 0 && s <= 0xffffffff, String(s));
      assert.equal(new Set(seeds).size, 4);
      for (const i of r.json.data) assert.equal('cost' in i, false);
    });

    it('keeps seeds beyond 2^53 exact and wraps past 2^63-1 to 0', async () => {
      const sim = await start();
      const t = task({ numberResults: 3 });
      const body = JSON.stringify([{ ...t, seed: 'SEED' }]).replace('"SEED"', '9223372036854775806');
      assert.equal((await api(sim, body)).status, 200);
      const r = await getResult(sim, t.taskUUID);
      const seeds = [...r.text.matchAll(/"seed":(\d+)/g)].map((m) => m[1]);
      assert.deepEqual(seeds, ['9223372036854775806', '9223372036854775807', '0']);
    });

    it('applies a runtime renderMs change to new jobs only', async () => {
      const sim = await start({ renderMs: 5000 });
      const slow = task();
      await api(sim, [slow]);
      sim.configure({ renderMs: 0 });
      const fast = task();
      await api(sim, [fast]);
      const r = await api(sim, [poll(slow.taskUUID), poll(fast.taskUUID)]);
      assert.equal(r.status, 200);
      assert.deepEqual(
        r.json.data.map((i) => [i.taskUUID, i.status]),
        [
          [slow.taskUUID, 'processing'],
          [fast.taskUUID, 'success'],
        ],
      );
    });

    it('answers batched polls with a mix of known and unknown tasks as 200 data + errors', async () => {
      const sim = await start();
      const t = task();
      await api(sim, [t]);
      const missing = uuid();
      const r = await api(sim, [poll(t.taskUUID), poll(missing)]);
      assert.equal(r.status, 200);
      assert.equal(r.json.data.length, 1);
      assert.equal(r.json.data[0].status, 'success');
      assert.deepEqual(
        r.json.errors.map((e) => [e.code, e.taskUUID]),
        [['taskFailedOrNotFound', missing]],
      );
      const both = await api(sim, [poll(uuid()), poll(uuid())]);
      assert.equal(both.status, 400, 'all not found: 400');
      const stats = sim.stats();
      assert.equal(stats.getResponseRequests, 2);
      assert.equal(stats.getResponseTasks, 4);
    });

    it('refuses batched polls with 400 unsupportedBatch when rejectBatchedPoll is set', async () => {
      const sim = await start({ rejectBatchedPoll: true });
      const a = task();
      const b = task();
      await api(sim, [a, b]);
      const r = await api(sim, [poll(a.taskUUID), poll(b.taskUUID)]);
      assert.equal(r.status, 400);
      assert.equal(r.json.errors.length, 1);
      assert.equal(r.json.errors[0].code, 'unsupportedBatch');
      assert.equal((await api(sim, [poll(a.taskUUID)])).status, 200);
    });

    it('fails every generation of a [sim:fail] task at its own finish time, inside HTTP 200', async () => {
      const sim = await start({ renderMs: 150 });
      const t = task({ positivePrompt: 'a dog [sim:fail]', numberResults: 2 });
      assert.equal((await api(sim, [t])).status, 200);
      const early = await api(sim, [poll(t.taskUUID)]);
      assert.equal(early.json.data[0].status, 'processing');
      await sleep(250);
      const r = await api(sim, [poll(t.taskUUID)]);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json.data, []);
      assert.equal(r.json.errors.length, 2, 'one entry per failed generation');
      for (const e of r.json.errors) {
        assert.deepEqual(Object.keys(e).sort(), ['code', 'message', 'status', 'taskType', 'taskUUID']);
        assert.deepEqual([e.code, e.taskUUID, e.taskType, e.status], ['inferenceError', t.taskUUID, 'videoInference', 'error']);
      }
    });

    it('fails a [sim:safety] task with contentPolicyViolation (a safety-family code of the SDKs)', async () => {
      const sim = await start();
      const t = task({ positivePrompt: 'something [sim:safety]' });
      await api(sim, [t]);
      const r = await api(sim, [poll(t.taskUUID)]);
      assert.equal(r.status, 200);
      assert.equal(r.json.errors[0].code, 'contentPolicyViolation');
    });

    it('fails jobs with the failedGeneration fault and counts it', async () => {
      const sim = await start({ faults: { failedGeneration: 1 } });
      const t = task();
      await api(sim, [t]);
      const r = await api(sim, [poll(t.taskUUID)]);
      assert.deepEqual([r.status, r.json.data.length, r.json.errors[0].code], [200, 0, 'inferenceError']);
      assert.equal(sim.stats().faultsInjected.failedGeneration, 1);
    });

    it('uses publicUrl as the base of the videoURLs', async () => {
      const sim = await start({ publicUrl: 'https://cdn.example.com/' });
      const t = task({ outputFormat: 'MOV' });
      await api(sim, [t]);
      const r = await getResult(sim, t.taskUUID);
      assert.equal(r.json.data[0].videoURL, `https://cdn.example.com/media/${r.json.data[0].videoUUID}.mov`);
    });
  });

  describe('simulator: media', () => {
    async function videoFor(sim, format) {
      const t = task({ outputFormat: format });
      await api(sim, [t]);
      return (await getResult(sim, t.taskUUID)).json.data[0];
    }

    for (const [format, ext, type] of [
      ['MP4', 'mp4', 'video/mp4'],
      ['WEBM', 'webm', 'video/webm'],
      ['MOV', 'mov', 'video/quicktime'],
    ]) {
      it(`serves the ${format} fixture without auth, whole and by range`, async () => {
        const sim = await start();
        const item = await videoFor(sim, format);
        const bytes = fixture(ext);
        const res = await fetch(item.videoURL);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('content-type'), type);
        assert.equal(res.headers.get('content-length'), String(bytes.length));
        assert.equal(res.headers.get('accept-ranges'), 'bytes');
        assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes));
        const part = await fetch(item.videoURL, { headers: { Range: 'bytes=10-109' } });
        assert.equal(part.status, 206);
        assert.equal(part.headers.get('content-range'), `bytes 10-109/${bytes.length}`);
        assert.equal(part.headers.get('content-length'), '100');
        assert.ok(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(10, 110)));
      });
    }

    it('serves open and suffix ranges, 416 past the end, and HEAD', async () => {
      const sim = await start();
      const item = await videoFor(sim, 'MP4');
      const bytes = fixture('mp4');
      const tail = await fetch(item.videoURL, { headers: { Range: 'bytes=-10' } });
      assert.equal(tail.status, 206);
      assert.ok(Buffer.from(await tail.arrayBuffer()).equals(bytes.subarray(bytes.length - 10)));
      const from = await fetch(item.videoURL, { headers: { Range: `bytes=${bytes.length - 5}-` } });
      assert.equal(from.status, 206);
      assert.equal((await from.arrayBuffer()).byteLength, 5);
      const past = await fetch(item.videoURL, { headers: { Range: `bytes=${bytes.length}-` } });
      assert.equal(past.status, 416);
      assert.equal(past.headers.get('content-range'), `bytes */${bytes.length}`);
      await past.arrayBuffer();
      const head = await fetch(item.videoURL, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), String(bytes.length));
    });

    it('answers 404 for unknown media, a wrong extension, or a result not finished yet', async () => {
      const sim = await start({ renderMs: 5000 });
      assert.equal((await fetch(`${sim.baseUrl}/media/${uuid()}.mp4`)).status, 404);
      assert.equal((await fetch(`${sim.baseUrl}/media/../../etc/passwd`)).status, 404);
      const t = task();
      await api(sim, [t]);
      sim.configure({ renderMs: 0 });
      const done = task();
      await api(sim, [done]);
      const item = (await getResult(sim, done.taskUUID)).json.data[0];
      assert.equal((await fetch(item.videoURL.replace('.mp4', '.webm'))).status, 404);
      assert.equal((await fetch(item.videoURL)).status, 200);
    });

    it('fails the next N media requests with failMedia(n, status), then serves again', async () => {
      const sim = await start();
      const item = await videoFor(sim, 'MP4');
      sim.failMedia(2, 502);
      const statuses = [];
      for (let i = 0; i < 3; i++) {
        const res = await fetch(item.videoURL);
        statuses.push(res.status);
        await res.arrayBuffer();
      }
      assert.deepEqual(statuses, [502, 502, 200]);
      assert.equal(sim.stats().faultsInjected.media, 2);
      sim.configure({ faults: { mediaStatus: 503 } });
      assert.equal((await fetch(item.videoURL)).status, 503);
      sim.configure({ faults: { mediaStatus: 0 } });
      assert.equal((await fetch(item.videoURL)).status, 200);
    });

    it('ships small fixtures of the right container types', () => {
      const mp4 = fixture('mp4');
      const mov = fixture('mov');
      const webm = fixture('webm');
      for (const b of [mp4, mov, webm]) assert.ok(b.length > 1000 && b.length < 100 * 1024, String(b.length));
      assert.equal(mp4.subarray(4, 12).toString('latin1'), 'ftypisom');
      assert.equal(mov.subarray(4, 10).toString('latin1'), 'ftypqt');
      assert.equal(webm.subarray(0, 4).toString('hex'), '1a45dfa3');
    });

    it('ships fixtures that ffprobe reads as video + audio of the documented codecs', function () {
      if (spawnSync('ffprobe', ['-version']).status !== 0) this.skip();
      const expected = { mp4: 'h264,aac', mov: 'h264,aac', webm: 'vp9,opus' };
      for (const [ext, codecs] of Object.entries(expected)) {
        const out = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', path.join(MEDIA_DIR, `ovi-sample.${ext}`)], {
          encoding: 'utf8',
        });
        assert.equal(out.stdout.trim().split('\n').join(','), codecs, ext);
      }
    });

    it('serves a sample camera snapshot: GET|HEAD /samples/snapshot.jpg, a 320x240 JPEG, no auth, even when media is faulted', async () => {
      const sim = await start({ faults: { mediaStatus: 503 } });
      const bytes = fs.readFileSync(path.join(MEDIA_DIR, 'snapshot.jpg'));
      assert.ok(bytes.length > 1000 && bytes.length < 64 * 1024, String(bytes.length));
      assert.equal(bytes.subarray(0, 3).toString('hex'), 'ffd8ff', 'JPEG magic');
      // The SOF0 segment holds the height, then the width.
      const sof = bytes.indexOf(Buffer.from([0xff, 0xc0]));
      assert.ok(sof > 0, 'a baseline JPEG');
      assert.deepEqual([bytes.readUInt16BE(sof + 7), bytes.readUInt16BE(sof + 5)], [320, 240]);
      const res = await fetch(`${sim.baseUrl}/samples/snapshot.jpg`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'image/jpeg');
      assert.equal(res.headers.get('content-length'), String(bytes.length));
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes));
      const head = await fetch(`${sim.baseUrl}/samples/snapshot.jpg`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), String(bytes.length));
      assert.equal((await fetch(`${sim.baseUrl}/samples/snapshot.png`)).status, 404);
      const post = await fetch(`${sim.baseUrl}/samples/snapshot.jpg`, { method: 'POST' });
      assert.equal(post.status, 404);
      await post.arrayBuffer();
      assert.equal(sim.stats().faultsInjected.media, 0);
    });
  });

  describe('simulator: webhooks and uploads', () => {
    it('POSTs each finished result to webhookURL as {"data":[item]} by default, keeping the URL query', async () => {
      const hook = await receiver();
      const sim = await start({ renderMs: 50 });
      const t = task({ numberResults: 2, includeCost: true, webhookURL: `${hook.url}/hook?token=s3cret` });
      await api(sim, [t]);
      await waitFor(() => hook.hits.length >= 2);
      await sleep(100);
      assert.equal(hook.hits.length, 2);
      const polled = (await getResult(sim, t.taskUUID)).json.data;
      for (const hit of hook.hits) {
        assert.equal(hit.method, 'POST');
        assert.equal(hit.url, '/hook?token=s3cret');
        assert.match(hit.headers['content-type'], /^application\/json/);
      }
      const bodies = hook.hits.map((h) => JSON.parse(h.body.toString()));
      assert.deepEqual(
        bodies,
        polled.map((item) => ({ data: [item] })),
      );
      const stats = sim.stats();
      assert.deepEqual([stats.webhookAttempts, stats.webhookDelivered, stats.webhookFailed], [2, 2, 0]);
      const logged = sim.deliveries();
      assert.equal(logged.length, 2);
      assert.ok(logged.every((d) => d.kind === 'webhook' && d.status === 200 && !d.url.includes('s3cret')));
    });

    it('delivers on its own timer, without anyone polling', async () => {
      const hook = await receiver();
      const sim = await start({ renderMs: 80 });
      await api(sim, [task({ webhookURL: `${hook.url}/h` })]);
      await waitFor(() => hook.hits.length === 1);
      assert.equal(sim.stats().getResponseTasks, 0);
    });

    it('POSTs the bare item with webhookWrap "bare"', async () => {
      const hook = await receiver();
      const sim = await start({ webhookWrap: 'bare' });
      const t = task({ webhookURL: `${hook.url}/h` });
      await api(sim, [t]);
      await waitFor(() => hook.hits.length === 1);
      const body = JSON.parse(hook.hits[0].body.toString());
      assert.equal(body.taskUUID, t.taskUUID);
      assert.equal(body.status, 'success');
      assert.equal(body.data, undefined);
    });

    it('POSTs each failed generation of a failed task as {"errors":[entry]}', async () => {
      const hook = await receiver();
      const sim = await start({ renderMs: 30 });
      const t = task({ numberResults: 3, positivePrompt: 'x [sim:fail]', webhookURL: `${hook.url}/h` });
      await api(sim, [t]);
      await waitFor(() => hook.hits.length >= 3);
      await sleep(100);
      assert.equal(hook.hits.length, 3, 'one POST per finished generation');
      for (const hit of hook.hits) {
        const body = JSON.parse(hit.body.toString());
        assert.deepEqual(body, {
          errors: [{ code: 'inferenceError', message: body.errors[0].message, taskUUID: t.taskUUID, taskType: 'videoInference', status: 'error' }],
        });
      }
    });

    it('writes big seeds in webhook bodies as exact integers', async () => {
      const hook = await receiver();
      const sim = await start();
      const t = task({ webhookURL: `${hook.url}/h` });
      await api(sim, JSON.stringify([{ ...t, seed: 'S' }]).replace('"S"', '9007199254740993'));
      await waitFor(() => hook.hits.length === 1);
      assert.match(hook.hits[0].body.toString(), /"seed":9007199254740993[,}]/);
    });

    it('redelivers after a non-2xx answer, then stops once delivered', async () => {
      const hook = await receiver((_hit, n) => (n <= 2 ? 500 : 204));
      const sim = await start({ webhookRetryDelaysMs: [20, 20, 20] });
      await api(sim, [task({ webhookURL: `${hook.url}/h` })]);
      await waitFor(() => sim.stats().webhookDelivered === 1);
      await sleep(100);
      assert.equal(hook.hits.length, 3);
      const s = sim.stats();
      assert.deepEqual([s.webhookAttempts, s.webhookDelivered, s.webhookFailed], [3, 1, 0]);
      assert.deepEqual(
        sim.deliveries().map((d) => [d.attempt, d.status]),
        [
          [1, 500],
          [2, 500],
          [3, 204],
        ],
      );
    });

    it('gives up after the last retry delay and counts the failure (HTTP error or network error)', async () => {
      const hook = await receiver(() => 503);
      const sim = await start({ webhookRetryDelaysMs: [10, 10] });
      await api(sim, [task({ webhookURL: `${hook.url}/h` })]);
      await waitFor(() => sim.stats().webhookFailed === 1);
      assert.equal(hook.hits.length, 3);
      // a port nobody listens on: connection refused
      const dead = http.createServer();
      await new Promise((r) => dead.listen(0, '127.0.0.1', r));
      const port = dead.address().port;
      await new Promise((r) => dead.close(r));
      await api(sim, [task({ webhookURL: `http://127.0.0.1:${port}/h` })]);
      await waitFor(() => sim.stats().webhookFailed === 2);
      const s = sim.stats();
      assert.equal(s.webhookAttempts, 6);
      assert.equal(s.webhookDelivered, 0);
      assert.ok(
        sim
          .deliveries()
          .slice(3)
          .every((d) => d.status === undefined && typeof d.error === 'string'),
      );
    });

    it('never POSTs when webhooks is false, while polling still works', async () => {
      const hook = await receiver();
      const sim = await start({ webhooks: false, renderMs: 20 });
      const t = task({ webhookURL: `${hook.url}/h` });
      await api(sim, [t]);
      await getResult(sim, t.taskUUID);
      await sleep(100);
      assert.equal(hook.hits.length, 0);
      assert.equal(sim.stats().webhookAttempts, 0);
    });

    it('sends webhookDuplicates extra identical deliveries of each result', async () => {
      const hook = await receiver();
      const sim = await start({ webhookDuplicates: 2 });
      await api(sim, [task({ numberResults: 2, webhookURL: `${hook.url}/h` })]);
      await waitFor(() => hook.hits.length >= 6);
      await sleep(100);
      assert.equal(hook.hits.length, 6);
      const bodies = hook.hits.map((h) => h.body.toString());
      assert.equal(new Set(bodies).size, 2, 'two distinct results, three copies each');
      for (const b of new Set(bodies)) assert.equal(bodies.filter((x) => x === b).length, 3);
    });

    it('with webhookBeforeAck, the callback arrives before the submit is answered', async () => {
      const events = [];
      const hook = await receiver(() => {
        events.push('webhook');
        return 200;
      });
      const sim = await start({ webhookBeforeAck: true, renderMs: 0 });
      const r = await api(sim, [task({ webhookURL: `${hook.url}/h` })]);
      events.push('ack');
      assert.equal(r.status, 200);
      assert.deepEqual(events, ['webhook', 'ack']);
      assert.equal(hook.hits.length, 1);
    });

    it('PUTs the media bytes to uploadEndpoint with the format type, retrying a failed upload', async () => {
      const store = await receiver((_hit, n) => (n === 1 ? 503 : 200));
      const sim = await start({ webhookRetryDelaysMs: [20] });
      const t = task({ outputFormat: 'MOV', uploadEndpoint: `${store.url}/bucket/video.mov?X-Amz-Signature=abc` });
      await api(sim, [t]);
      await waitFor(() => sim.stats().uploadsDelivered === 1);
      assert.equal(store.hits.length, 2);
      const hit = store.hits[1];
      assert.equal(hit.method, 'PUT');
      assert.equal(hit.url, '/bucket/video.mov?X-Amz-Signature=abc');
      assert.equal(hit.headers['content-type'], 'video/quicktime');
      assert.equal(hit.headers['content-length'], String(fixture('mov').length));
      assert.ok(hit.body.equals(fixture('mov')));
      const item = (await getResult(sim, t.taskUUID)).json.data[0];
      assert.match(item.videoURL, /\.mov$/, 'the result still carries its videoURL');
    });
  });

  describe('simulator: faults', () => {
    it('429 from the queue: Retry-After, rateLimitExceeded, task not processed', async () => {
      const sim = await start({ retryAfterSeconds: 7 });
      sim.queueFaults(['429']);
      const t = task();
      const r = await api(sim, [t]);
      assert.equal(r.status, 429);
      assert.equal(r.headers.get('retry-after'), '7');
      assert.equal(r.json.errors[0].code, 'rateLimitExceeded');
      assert.equal(sim.stats().acceptedByUUID[t.taskUUID], undefined);
      assert.equal((await api(sim, [t])).status, 200, 'the retry is accepted');
      assert.equal(sim.stats().faultsInjected.rateLimit, 1);
    });

    it('5xx from the queue: the status asked for, an errors body, task not processed', async () => {
      const sim = await start();
      sim.queueFaults(['500', '502', '503']);
      const t = task();
      const statuses = [];
      for (let i = 0; i < 3; i++) {
        const r = await api(sim, [t]);
        statuses.push(r.status);
        assert.ok(Array.isArray(r.json.errors) && typeof r.json.errors[0].code === 'string');
      }
      assert.deepEqual(statuses, [500, 502, 503]);
      assert.equal(sim.stats().jobs, 0);
      assert.equal((await api(sim, [t])).status, 200);
    });

    it('reset: the task IS accepted, the response is lost; the retry is refused as a duplicate', async () => {
      const sim = await start();
      sim.queueFaults(['reset']);
      const t = task();
      await assert.rejects(api(sim, [t]));
      assert.equal(sim.stats().acceptedByUUID[t.taskUUID], 1);
      const again = await api(sim, [t]);
      assert.equal(again.status, 400);
      assert.equal(again.json.errors[0].code, 'duplicateTaskUUID');
      assert.equal(sim.stats().acceptedByUUID[t.taskUUID], 1);
      assert.equal((await api(sim, [poll(t.taskUUID)])).status, 200);
      const entry = sim.requests()[0];
      assert.deepEqual([entry.status, entry.fault], [0, 'reset']);
    });

    it('malformed: the task is accepted, the 200 body is truncated JSON', async () => {
      const sim = await start();
      sim.queueFaults(['malformed']);
      const t = task();
      const r = await api(sim, [t]);
      assert.equal(r.status, 200);
      assert.equal(r.json, undefined);
      assert.throws(() => JSON.parse(r.text));
      assert.ok(r.text.length > 0);
      assert.equal(sim.stats().acceptedByUUID[t.taskUUID], 1);
    });

    it('slow: the task is accepted, the response comes after slowMs (past a client timeout)', async () => {
      const sim = await start({ slowMs: 400 });
      sim.queueFaults(['slow', 'slow']);
      const t = task();
      await assert.rejects(api(sim, [t], { signal: AbortSignal.timeout(100) }), (err) => err.name === 'TimeoutError');
      assert.equal(sim.stats().acceptedByUUID[t.taskUUID], 1);
      const began = Date.now();
      const r = await api(sim, [poll(t.taskUUID)]);
      assert.ok(Date.now() - began >= 380, 'held for slowMs');
      assert.equal(r.status, 200);
      assert.equal(sim.stats().faultsInjected.slow, 2);
    });

    it('takes queued faults in order before random ones, and rejects unknown names', async () => {
      const sim = await start();
      sim.queueFaults(['none', '429']);
      assert.equal((await api(sim, [task()])).status, 200);
      assert.equal((await api(sim, [task()])).status, 429);
      assert.equal((await api(sim, [task()])).status, 200);
      assert.throws(() => sim.queueFaults(['teapot']), /unknown fault/);
    });

    it('draws random faults reproducibly from randomSeed', async () => {
      async function run(seed) {
        const sim = await start({ randomSeed: seed, faults: { rateLimit: 0.3, serverError: 0.2 } });
        const out = [];
        for (let i = 0; i < 25; i++) out.push((await api(sim, [task()])).status);
        return out;
      }
      const a = await run(7);
      const b = await run(7);
      assert.deepEqual(a, b);
      assert.ok(a.includes(200) && a.includes(429) && a.some((s) => s >= 500), a.join(','));
    });

    it('adds latencyMs to API responses only', async () => {
      const sim = await start({ faults: { latencyMs: 150 } });
      let began = Date.now();
      await api(sim, [task()]);
      assert.ok(Date.now() - began >= 140);
      began = Date.now();
      await fetch(`${sim.baseUrl}/health`);
      assert.ok(Date.now() - began < 130);
    });

    it('never faults media, admin and health routes', async () => {
      const sim = await start({ faults: { rateLimit: 1 } });
      assert.equal((await fetch(`${sim.baseUrl}/health`)).status, 200);
      assert.equal((await fetch(`${sim.baseUrl}/__sim/stats`)).status, 200);
      assert.equal((await api(sim, [task()])).status, 429);
    });
  });

  describe('simulator: control API', () => {
    it('GET /__sim/stats mirrors sim.stats()', async () => {
      const sim = await start();
      const t = task();
      await api(sim, [t]);
      await api(sim, [poll(t.taskUUID)]);
      const over = await (await fetch(`${sim.baseUrl}/__sim/stats`)).json();
      assert.deepEqual(over, sim.stats());
      assert.equal(over.apiRequests, 2);
      assert.equal(over.submits, 1);
      assert.equal(over.getResponseTasks, 1);
    });

    it('POST /__sim/config merges options and faults; bad keys → 400 and nothing changes', async () => {
      const sim = await start({ renderMs: 1234 });
      const res = await fetch(`${sim.baseUrl}/__sim/config`, { method: 'POST', body: JSON.stringify({ renderMs: 10, faults: { rateLimit: 0.5 } }) });
      assert.equal(res.status, 200);
      const shown = await res.json();
      assert.equal(shown.renderMs, 10);
      assert.equal(shown.faults.rateLimit, 0.5);
      assert.equal(shown.faults.serverError, 0);
      assert.equal(sim.options.renderMs, 10);
      assert.equal(sim.options.faults.rateLimit, 0.5);
      for (const bad of [{ renderMz: 1 }, { renderMs: 'fast' }, { faults: { rateLimit: 2 } }, { renderMs: 5, faults: { nope: 1 } }]) {
        const r = await fetch(`${sim.baseUrl}/__sim/config`, { method: 'POST', body: JSON.stringify(bad) });
        assert.equal(r.status, 400, JSON.stringify(bad));
        assert.equal((await r.json()).errors[0].code, 'invalidConfig');
      }
      assert.equal(sim.options.renderMs, 10, 'a refused patch changes nothing');
      assert.throws(() => sim.configure({ webhookWrap: 'xml' }), /webhookWrap/);
    });

    it('POST /__sim/faults queues faults and media failures', async () => {
      const sim = await start();
      const r = await fetch(`${sim.baseUrl}/__sim/faults`, { method: 'POST', body: JSON.stringify({ queue: ['503'], media: { count: 1, status: 500 } }) });
      assert.equal(r.status, 200);
      assert.equal((await api(sim, [task()])).status, 503);
      const bad = await fetch(`${sim.baseUrl}/__sim/faults`, { method: 'POST', body: JSON.stringify({ queue: ['bogus'] }) });
      assert.equal(bad.status, 400);
    });

    it('POST /__sim/reset forgets jobs, counters, logs and pending deliveries', async () => {
      const hook = await receiver();
      const sim = await start({ renderMs: 150 });
      const t = task({ webhookURL: `${hook.url}/h` });
      await api(sim, [t]);
      const res = await fetch(`${sim.baseUrl}/__sim/reset`, { method: 'POST' });
      assert.equal(res.status, 200);
      const s = sim.stats();
      assert.deepEqual([s.jobs, s.apiRequests, s.submits, Object.keys(s.acceptedByUUID).length], [0, 0, 0, 0]);
      assert.equal(sim.requests().length, 0);
      const r = await api(sim, [poll(t.taskUUID)]);
      assert.equal(r.json.errors[0].code, 'taskFailedOrNotFound');
      await sleep(250);
      assert.equal(hook.hits.length, 0, 'the pending webhook was cancelled');
    });

    it('GET /__sim/requests returns the request log, without API keys', async () => {
      const sim = await start();
      const t = task({ positivePrompt: 'log me' });
      await api(sim, [t]);
      await fetch(`${sim.baseUrl}/__sim/stats`);
      const log = await (await fetch(`${sim.baseUrl}/__sim/requests`)).json();
      assert.equal(log.length, 1, 'admin routes are not logged');
      assert.deepEqual([log[0].method, log[0].path, log[0].status], ['POST', '/v1', 200]);
      assert.equal(log[0].bodyText, JSON.stringify([t]));
      assert.deepEqual(log[0].tasks, [t]);
      assert.equal(typeof log[0].at, 'number');
      assert.deepEqual(log, sim.requests());
      sim.clearRequests();
      assert.equal(sim.requests().length, 0);
    });

    it('caps the request log at requestLogLimit entries', async () => {
      const sim = await start({ requestLogLimit: 5 });
      const ids = [];
      for (let i = 0; i < 8; i++) {
        const id = uuid();
        ids.push(id);
        await api(sim, [poll(id)]);
      }
      const log = sim.requests();
      assert.equal(log.length, 5);
      assert.deepEqual(
        log.map((e) => e.tasks[0].taskUUID),
        ids.slice(3),
      );
    });
  });

  describe('simulator: robustness and lifecycle', () => {
    it('survives hostile input and keeps serving', async () => {
      const sim = await start();
      const deep = '['.repeat(5000) + ']'.repeat(5000);
      const bodies = [
        deep,
        '[{"__proto__":{"polluted":1},"taskType":"videoInference"}]',
        JSON.stringify([{ taskType: 'getResponse', taskUUID: 'x'.repeat(100000) }]),
        JSON.stringify([{ taskType: 'videoInference', taskUUID: { a: 1 }, model: [], positivePrompt: {} }]),
        Buffer.from([0x5b, 0xff, 0xfe, 0x5d]).toString('latin1'),
        JSON.stringify(Array.from({ length: 2000 }, () => ({ taskType: 'getResponse' }))),
      ];
      for (const body of bodies) {
        const r = await api(sim, body);
        assert.equal(r.status, 400, body.slice(0, 60));
        assert.ok(Array.isArray(r.json.errors));
      }
      assert.equal({}.polluted, undefined);
      const res = await fetch(`${sim.baseUrl}//evil.example.com/x`);
      assert.equal(res.status, 404);
      assert.equal((await fetch(`${sim.baseUrl}/health`)).status, 200);
      assert.ok(sim.requests().every((e) => e.bodyText.length <= 16 * 1024 + 1));
    });

    it('close() is instant with keep-alive sockets, a pending slow response and pending deliveries', async () => {
      const hook = await receiver();
      const sim = await start({ renderMs: 10000, slowMs: 10000 });
      const agent = new http.Agent({ keepAlive: true });
      await new Promise((resolve, reject) => {
        http
          .get(`${sim.baseUrl}/health`, { agent }, (res) => {
            res.resume();
            res.on('end', resolve);
          })
          .on('error', reject);
      });
      await api(sim, [task({ webhookURL: `${hook.url}/h` })]);
      sim.queueFaults(['slow']);
      const pending = api(sim, [task()]).catch((e) => e);
      await sleep(50);
      const began = Date.now();
      await sim.close();
      assert.ok(Date.now() - began < 500, `close took ${Date.now() - began} ms`);
      assert.ok((await pending) instanceof Error, 'the held response was dropped');
      await assert.rejects(fetch(`${sim.baseUrl}/health`));
      await sim.close(); // idempotent
      agent.destroy();
    });
  });

  describe('simulator: per-generation outcomes and failure shapes', () => {
    // Generation i finishes at renderMs * (1 + 0.25 i): 200, 250, 300 ms here.
    async function pollUntilDone(sim, taskUUID) {
      const seen = [];
      for (;;) {
        const r = await api(sim, [poll(taskUUID)]);
        assert.equal(r.status, 200, r.text);
        seen.push(r.json);
        const pending = r.json.data.some((i) => i.status === 'processing');
        if (!pending) return seen;
        await sleep(15);
      }
    }

    it("cumulative answers with failureShape 'errors': successes stay, the failed one stays, a placeholder while pending", async () => {
      const sim = await start({ renderMs: 200 });
      const t = task({ numberResults: 3, positivePrompt: 'a choir [sim:fail:1]', includeCost: true });
      await api(sim, [t]);
      const seen = await pollUntilDone(sim, t.taskUUID);
      let before = { successes: [], failed: 0 };
      for (const answer of seen) {
        const successes = answer.data.filter((i) => i.status === 'success').map((i) => i.videoUUID);
        const failed = (answer.errors || []).length;
        assert.ok(answer.data.filter((i) => i.status === 'processing').length <= 1, 'one placeholder at most');
        assert.deepEqual(successes.slice(0, before.successes.length), before.successes, 'a success stays a success');
        assert.ok(failed >= before.failed, 'a failure stays a failure');
        assert.ok(!answer.data.some((i) => i.status === 'error'), "no error items in the 'errors' shape");
        before = { successes, failed };
      }
      const last = seen[seen.length - 1];
      assert.deepEqual(
        last.data.map((i) => [i.status, i.seed !== undefined, i.cost]),
        [
          ['success', true, 0.0437],
          ['success', true, 0.0437],
        ],
      );
      assert.deepEqual(last.errors, [
        { code: 'inferenceError', message: last.errors[0].message, taskUUID: t.taskUUID, taskType: 'videoInference', status: 'error' },
      ]);
      assert.ok(
        seen.some((a) => a.errors && a.errors.length === 1 && a.data.some((i) => i.status === 'processing')),
        'the failure is visible while generation 2 is still pending',
      );
      // The successful generations' media are served.
      for (const item of last.data) assert.equal((await fetch(item.videoURL, { method: 'HEAD' })).status, 200);
    });

    it("cumulative answers with failureShape 'item': a data[] item {status:'error', error:{code, message}}", async () => {
      const sim = await start({ renderMs: 200, failureShape: 'item' });
      const t = task({ numberResults: 3, positivePrompt: 'a choir [sim:safety:0]' });
      await api(sim, [t]);
      const seen = await pollUntilDone(sim, t.taskUUID);
      for (const answer of seen) assert.equal(answer.errors, undefined, "no errors[] in the 'item' shape");
      const first = seen.find((a) => a.data.some((i) => i.status === 'error'));
      assert.ok(
        first.data.some((i) => i.status === 'processing'),
        'the failed item shows while the others render',
      );
      const last = seen[seen.length - 1];
      assert.deepEqual(
        last.data.map((i) => i.status),
        ['error', 'success', 'success'],
      );
      assert.deepEqual(last.data[0], {
        taskType: 'videoInference',
        taskUUID: t.taskUUID,
        status: 'error',
        error: { code: 'contentPolicyViolation', message: last.data[0].error.message },
      });
    });

    it("a whole-task failure in the 'item' shape: every generation an error item, no errors[]", async () => {
      const sim = await start({ failureShape: 'item' });
      const t = task({ numberResults: 2, positivePrompt: 'x [sim:fail]' });
      await api(sim, [t]);
      const r = await api(sim, [poll(t.taskUUID)]);
      assert.equal(r.status, 200);
      assert.deepEqual(
        r.json.data.map((i) => [i.status, i.error.code]),
        [
          ['error', 'inferenceError'],
          ['error', 'inferenceError'],
        ],
      );
      assert.equal(r.json.errors, undefined);
    });

    it('ignores a generation marker beyond numberResults, and the failedGeneration fault fails the whole task', async () => {
      const sim = await start();
      const t = task({ positivePrompt: 'x [sim:fail:3]' });
      await api(sim, [t]);
      assert.equal((await getResult(sim, t.taskUUID)).json.data.length, 1);
      sim.configure({ faults: { failedGeneration: 1 } });
      const f = task({ numberResults: 2 });
      await api(sim, [f]);
      const r = await api(sim, [poll(f.taskUUID)]);
      assert.deepEqual(
        r.json.errors.map((e) => e.code),
        ['inferenceError', 'inferenceError'],
      );
    });

    it('progress: true puts progress (0..99) on the placeholder', async () => {
      const sim = await start({ renderMs: 300, progress: true });
      const t = task({ numberResults: 2 });
      await api(sim, [t]);
      const r = await api(sim, [poll(t.taskUUID)]);
      const ph = r.json.data[0];
      assert.deepEqual(Object.keys(ph).sort(), ['progress', 'status', 'taskType', 'taskUUID']);
      assert.ok(Number.isInteger(ph.progress) && ph.progress >= 0 && ph.progress < 50, `progress ${ph.progress}`);
    });

    it('webhooks per generation: successes as {data:[item]}, the failure as {errors:[entry]}; no upload for it', async () => {
      const hook = await receiver();
      const store = await receiver();
      const sim = await start({ renderMs: 30 });
      const t = task({ numberResults: 3, positivePrompt: 'x [sim:fail:2]', webhookURL: `${hook.url}/h`, uploadEndpoint: `${store.url}/u` });
      await api(sim, [t]);
      await waitFor(() => hook.hits.length >= 3 && store.hits.length >= 2);
      await sleep(100);
      assert.equal(hook.hits.length, 3);
      assert.equal(store.hits.length, 2, 'a failed generation has no bytes to upload');
      const bodies = hook.hits.map((h) => JSON.parse(h.body.toString()));
      assert.equal(bodies.filter((b) => b.data && b.data[0].status === 'success').length, 2);
      const failure = bodies.find((b) => b.errors);
      assert.deepEqual(Object.keys(failure), ['errors']);
      assert.deepEqual([failure.errors[0].code, failure.errors[0].taskUUID, failure.errors[0].status], ['inferenceError', t.taskUUID, 'error']);
    });

    it("webhooks with failureShape 'item': {data:[errorItem]}, or the bare error item with webhookWrap 'bare'", async () => {
      for (const [wrap, unwrap] of [
        ['data', (b) => (assert.deepEqual(Object.keys(b), ['data']), b.data[0])],
        ['bare', (b) => b],
      ]) {
        const hook = await receiver();
        const sim = await start({ failureShape: 'item', webhookWrap: wrap });
        const t = task({ positivePrompt: 'x [sim:safety]', webhookURL: `${hook.url}/h` });
        await api(sim, [t]);
        await waitFor(() => hook.hits.length === 1);
        const item = unwrap(JSON.parse(hook.hits[0].body.toString()));
        assert.deepEqual([item.taskUUID, item.status, item.error.code], [t.taskUUID, 'error', 'contentPolicyViolation'], wrap);
      }
    });
  });

  describe('simulator: batch limits, duplicate answers, required inputs, images', () => {
    async function threeJobs(sim) {
      const jobs = [task(), task(), task()];
      await api(sim, jobs);
      return jobs.map((j) => j.taskUUID);
    }

    it("maxBatch with 'refuse': 400 {errors:[{code, message}]} without taskUUIDs, nothing processed", async () => {
      const sim = await start({ maxBatch: 2 });
      const ids = await threeJobs(sim);
      const fresh = task();
      const r = await api(sim, [...ids.map(poll), fresh]);
      assert.equal(r.status, 400);
      assert.equal(r.json.data, undefined);
      assert.equal(r.json.errors.length, 1);
      assert.equal(r.json.errors[0].code, 'unsupportedBatch');
      assert.equal(r.json.errors[0].taskUUID, undefined);
      assert.match(r.json.errors[0].message, /At most 2 getResponse/);
      assert.equal(sim.stats().acceptedByUUID[fresh.taskUUID], undefined, 'a refused request processes nothing');
      const two = await api(sim, ids.slice(0, 2).map(poll));
      assert.equal(two.status, 200);
      assert.equal(two.json.data.length, 2);
      assert.equal(sim.stats().batchRefusals, 1);
    });

    it("maxBatch with 'partial': 200 for the first maxBatch polls only, the others missing", async () => {
      const sim = await start({ maxBatch: 2, batchOverLimit: 'partial' });
      const ids = await threeJobs(sim);
      const r = await api(sim, [...ids.map(poll), poll(uuid())]);
      assert.equal(r.status, 200);
      assert.deepEqual(
        r.json.data.map((i) => i.taskUUID),
        ids.slice(0, 2),
      );
      assert.equal(r.json.errors, undefined, 'the unknown fourth task is not even looked at');
      assert.equal(sim.stats().batchTruncations, 1);
    });

    it('rejectBatchedPoll is maxBatch 1 + refuse, whatever maxBatch says', async () => {
      const sim = await start({ rejectBatchedPoll: true, maxBatch: 5, batchOverLimit: 'partial' });
      assert.deepEqual([sim.shapes().maxBatch, sim.shapes().batchOverLimit], [1, 'refuse']);
      const ids = await threeJobs(sim);
      assert.equal((await api(sim, ids.slice(0, 2).map(poll))).status, 400);
    });

    it('duplicateAnswer makes a reused taskUUID come back under another status and code', async () => {
      const sim = await start({ duplicateAnswer: { status: 409, code: 'conflictTaskAlreadyExists' } });
      const t = task();
      await api(sim, [t]);
      const again = await api(sim, [t]);
      assert.equal(again.status, 409);
      assert.deepEqual(
        [again.json.errors[0].code, again.json.errors[0].taskUUID, again.json.errors[0].parameter],
        ['conflictTaskAlreadyExists', t.taskUUID, 'taskUUID'],
      );
      const mixed = await api(sim, [t, task()]);
      assert.equal(mixed.status, 200, 'mixed: still 200 with data and errors');
      assert.equal(mixed.json.errors[0].code, 'conflictTaskAlreadyExists');
      const firstBad = await api(sim, [task({ steps: 0 }), t]);
      assert.equal(firstBad.status, 400, 'the first refusal decides the status');
      assert.equal(sim.stats().acceptedByUUID[t.taskUUID], 1);
      assert.throws(() => sim.configure({ duplicateAnswer: { status: 200, code: 'x' } }), /duplicateAnswer\.status/);
      assert.throws(() => sim.configure({ duplicateAnswer: { status: 409 } }), /duplicateAnswer\.code/);
    });

    it('requireInputs refuses a task without inputs with 400 missingInputs on inputs', async () => {
      const sim = await start({ requireInputs: true });
      const t = task();
      const r = await api(sim, [t]);
      assert.equal(r.status, 400);
      assert.deepEqual(r.json.errors, [
        {
          code: 'missingInputs',
          message: "Missing required parameter 'inputs'.",
          parameter: 'inputs',
          type: 'object',
          taskType: 'videoInference',
          taskUUID: t.taskUUID,
          documentation: DOCS,
        },
      ]);
      assert.equal((await api(sim, [task({ inputs: { image: 'https://example.com/a.png' } })])).status, 200);
      sim.configure({ requireInputs: false });
      assert.equal((await api(sim, [task()])).status, 200);
    });

    for (const type of ['gif', 'bmp', 'avif', 'svg+xml', 'tiff']) {
      it(`refuses an image data URI of type image/${type} (Runware lists PNG, JPG and WEBP)`, async () => {
        const sim = await start();
        const r = await api(sim, [task({ inputs: { image: `data:image/${type};base64,AAAAAAAAAAAAAAAAAAAA` } })]);
        assert.equal(r.status, 400);
        assert.deepEqual([r.json.errors[0].code, r.json.errors[0].parameter], ['invalidImage', 'inputs.image']);
      });
    }

    it('accepts JPEG and WEBP data URIs', async () => {
      const sim = await start();
      for (const type of ['jpeg', 'webp']) {
        assert.equal((await api(sim, [task({ inputs: { image: `data:image/${type};base64,AAAAAAAAAAAAAAAA` } })])).status, 200, type);
      }
    });
  });

  describe('simulator: scripted answers', () => {
    it('queueAnswers: the next request gets exactly that status, body and headers; its tasks are not processed', async () => {
      const sim = await start();
      sim.queueAnswers([{ status: 400, body: { errors: [{ code: 'invalidPositivePrompt', message: 'no taskUUID here' }] }, headers: { 'X-Sim': 'yes' } }]);
      const t = task();
      const r = await api(sim, [t]);
      assert.equal(r.status, 400);
      assert.equal(r.headers.get('x-sim'), 'yes');
      assert.match(r.headers.get('content-type'), /^application\/json/);
      assert.deepEqual(r.json, { errors: [{ code: 'invalidPositivePrompt', message: 'no taskUUID here' }] });
      assert.equal(sim.stats().jobs, 0);
      assert.equal((await api(sim, [t])).status, 200, 'the script is used up: normal service again');
      const entry = sim.requests()[0];
      assert.deepEqual([entry.status, entry.fault, entry.tasks[0].taskUUID], [400, 'answer', t.taskUUID]);
      assert.equal(sim.stats().scriptedAnswers, 1);
    });

    it('a 5xx naming a non-retryable code, and a body computed from the tasks (a 200 answering some of them)', async () => {
      const sim = await start();
      const [a, b] = [task(), task()];
      await api(sim, [a, b]);
      sim.queueAnswers([
        { status: 500, body: { errors: [{ code: 'invalidApiKey', message: 'odd but possible' }] } },
        { status: 200, body: (tasks) => ({ data: [{ taskType: 'videoInference', taskUUID: tasks[0].taskUUID, status: 'processing' }] }) },
      ]);
      const r500 = await api(sim, [poll(a.taskUUID)]);
      assert.deepEqual([r500.status, r500.json.errors[0].code], [500, 'invalidApiKey']);
      const some = await api(sim, [poll(a.taskUUID), poll(b.taskUUID)]);
      assert.equal(some.status, 200);
      assert.deepEqual(some.json, { data: [{ taskType: 'videoInference', taskUUID: a.taskUUID, status: 'processing' }] });
    });

    it('process: true accepts the tasks first (a lost answer): the resend meets the duplicate refusal', async () => {
      const sim = await start();
      sim.queueAnswers([{ status: 502, body: { errors: [{ code: 'badGateway', message: 'lost' }] }, process: true }]);
      const t = task();
      assert.equal((await api(sim, [t])).status, 502);
      assert.equal(sim.stats().acceptedByUUID[t.taskUUID], 1);
      assert.equal((await api(sim, [t])).json.errors[0].code, 'duplicateTaskUUID');
    });

    it('takes scripted answers before queued faults, after authentication', async () => {
      const sim = await start();
      sim.queueFaults(['429']);
      sim.queueAnswers([{ status: 202, body: null }]);
      assert.equal((await api(sim, [task()], { key: 'wrong' })).status, 401);
      const r = await api(sim, [task()]);
      assert.deepEqual([r.status, r.text], [202, 'null']);
      assert.equal((await api(sim, [task()])).status, 429);
    });

    it('POST /__sim/answers queues answers over HTTP; bad ones → 400 and nothing queued; reset clears them', async () => {
      const sim = await start();
      const post = (body) => fetch(`${sim.baseUrl}/__sim/answers`, { method: 'POST', body: JSON.stringify(body) });
      const ok = await post({ answers: [{ status: 503, body: { errors: [{ code: 'serviceUnavailable', message: 'x' }] } }] });
      assert.deepEqual(await ok.json(), { ok: true, queued: 1 });
      assert.equal((await api(sim, [task()])).status, 503);
      for (const bad of [
        { answers: [{ status: 99, body: {} }] },
        { answers: [{ status: 200 }] },
        { answers: [{ status: 200, body: {}, extra: 1 }] },
        { nope: 1 },
      ]) {
        const r = await post(bad);
        assert.equal(r.status, 400, JSON.stringify(bad));
        assert.equal((await r.json()).errors[0].code, 'invalidConfig');
      }
      assert.equal(
        (
          await post([
            { status: 200, body: {} },
            { status: 200, body: {} },
          ])
        ).status,
        200,
      );
      sim.reset();
      assert.equal((await api(sim, [task()])).status, 200, 'reset forgot the script');
    });
  });

  describe('simulator: alternative shapes', () => {
    it('defaults: data-wrapped webhooks, errors[] failures, no progress, no batch limit, 400 duplicateTaskUUID, inputs optional', async () => {
      const sim = await start();
      assert.deepEqual(sim.shapes(), {
        webhookWrap: 'data',
        failureShape: 'errors',
        progress: false,
        maxBatch: 0,
        batchOverLimit: 'refuse',
        duplicateAnswer: { status: 400, code: 'duplicateTaskUUID' },
        requireInputs: false,
      });
    });

    it("shapes: 'alt' switches every unconfirmed choice at once; a named option still wins; null hands it back", async () => {
      const hook = await receiver();
      const sim = await start({ shapes: 'alt', renderMs: 100 });
      assert.deepEqual(sim.shapes(), {
        webhookWrap: 'bare',
        failureShape: 'item',
        progress: true,
        maxBatch: 1,
        batchOverLimit: 'refuse',
        duplicateAnswer: { status: 409, code: 'conflictTaskAlreadyExists' },
        requireInputs: true,
      });
      const img = { inputs: { image: 'https://example.com/a.png' } };
      assert.equal((await api(sim, [task()])).json.errors[0].code, 'missingInputs');
      const [a, b] = [task({ ...img, webhookURL: `${hook.url}/h` }), task(img)];
      await api(sim, [a, b]);
      assert.equal((await api(sim, [poll(a.taskUUID), poll(b.taskUUID)])).status, 400);
      const one = await api(sim, [poll(a.taskUUID)]);
      assert.equal(typeof one.json.data[0].progress, 'number');
      assert.equal((await api(sim, [a])).status, 409);
      await waitFor(() => hook.hits.length === 1);
      assert.equal(JSON.parse(hook.hits[0].body.toString()).status, 'success', 'a bare item');
      const view = await (await fetch(`${sim.baseUrl}/__sim/config`)).json();
      assert.equal(view.shapes, 'alt');
      assert.equal(view.effective.failureShape, 'item');
      sim.configure({ requireInputs: false, progress: false });
      assert.equal((await api(sim, [task()])).status, 200);
      assert.equal(sim.shapes().progress, false);
      sim.configure({ progress: null });
      assert.equal(sim.shapes().progress, true);
      assert.throws(() => sim.configure({ shapes: 'other' }), /shapes/);
      assert.throws(() => sim.configure({ failureShape: 'nested' }), /failureShape/);
      assert.throws(() => sim.configure({ batchOverLimit: 'drop' }), /batchOverLimit/);
    });
  });

  describe('simulator: CLI', () => {
    const cli = path.join(__dirname, '..', 'dist', 'simulator', 'cli.js');

    it('prints the listening line, serves the API and exits 0 on SIGTERM', async () => {
      const child = spawn(process.execPath, [cli, '--port', '0', '--key', 'cli-key', '--render-ms', '0', '--quiet']);
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      const exited = new Promise((r) => child.on('exit', (code) => r(code)));
      try {
        const line = await waitFor(() => /Runware simulator listening on (http:\/\/127\.0\.0\.1:\d+\/v1) \(API key: cli-key\)/.exec(out));
        const url = line[1];
        const t = task();
        const res = await fetch(url, { method: 'POST', headers: { Authorization: 'Bearer cli-key' }, body: JSON.stringify([t]) });
        assert.equal(res.status, 200);
        assert.deepEqual(await res.json(), { data: [{ taskType: 'videoInference', taskUUID: t.taskUUID }] });
      } finally {
        child.kill('SIGTERM');
      }
      assert.equal(await exited, 0);
    });

    it('prints usage for --help and exits 2 on an unknown flag', () => {
      const help = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
      assert.equal(help.status, 0);
      assert.match(help.stdout, /Usage: ovi-simulator/);
      assert.match(help.stdout, /--fault-429/);
      const bad = spawnSync(process.execPath, [cli, '--bogus'], { encoding: 'utf8' });
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /unknown option --bogus/);
      const badValue = spawnSync(process.execPath, [cli, '--fault-429', '2'], { encoding: 'utf8' });
      assert.equal(badValue.status, 2);
      for (const flag of [
        '--progress',
        '--failure-shape',
        '--max-batch',
        '--batch-over-limit',
        '--require-inputs',
        '--webhook-wrap',
        '--alt-shapes',
        '--duplicate-answer',
      ]) {
        assert.ok(help.stdout.includes(flag), flag);
      }
      for (const args of [
        ['--failure-shape', 'nested'],
        ['--batch-over-limit', 'drop'],
        ['--max-batch', '1.5'],
        ['--duplicate-answer', '409'],
      ]) {
        assert.equal(spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' }).status, 2, args.join(' '));
      }
    });

    it('--alt-shapes with individual flags on top: the effective choices show in /__sim/config', async () => {
      const args = ['--port', '0', '--quiet', '--alt-shapes', '--webhook-wrap', 'data', '--max-batch', '3', '--batch-over-limit', 'partial'];
      const child = spawn(process.execPath, [cli, ...args, '--duplicate-answer', '422:duplicateTask']);
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      const exited = new Promise((r) => child.on('exit', (code) => r(code)));
      try {
        const line = await waitFor(() => /listening on (http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(out));
        const view = await (await fetch(`${line[1]}/__sim/config`)).json();
        assert.deepEqual(view.effective, {
          webhookWrap: 'data',
          failureShape: 'item',
          progress: true,
          maxBatch: 3,
          batchOverLimit: 'partial',
          duplicateAnswer: { status: 422, code: 'duplicateTask' },
          requireInputs: true,
        });
      } finally {
        child.kill('SIGTERM');
      }
      assert.equal(await exited, 0);
    });
  });
});
