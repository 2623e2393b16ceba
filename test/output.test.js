'use strict';
// Results where users need them: URL, Buffer or file; uploadEndpoint PUTs; cost total and budget.
const assert = require('assert');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { helper, useHarness, pipeline, load, collector, apiRequests, sleep } = require('./helpers');

async function bytesOf(url) {
  const res = await fetch(url);
  return Buffer.from(await res.arrayBuffer());
}

describe('results: output modes, uploads, cost and budget', function () {
  let sim;
  let tmp;
  useHarness((s) => (sim = s));
  beforeEach(() => {
    sim.reset();
    sim.configure({ renderMs: 60 });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ovi-out-'));
  });
  afterEach(() => {
    helper.settings({});
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('URL mode (default): the result item, msg.mimetype and msg.filename', async () => {
    await load(pipeline(sim, { submit: { outputFormat: 'WEBM' } }));
    const results = collector('results');
    helper.getNode('submit').receive({ payload: 'url mode' });
    const [r] = await results.next(1);
    assert.strictEqual(typeof r.payload.videoURL, 'string');
    assert.strictEqual(r.mimetype, 'video/webm');
    assert.ok(r.filename.endsWith('.webm'));
    assert.strictEqual(r.ovi.bytes, undefined);
  });

  it('Buffer mode: msg.payload holds exactly the bytes served, the item moves to msg.ovi.result', async () => {
    await load(pipeline(sim, { poll: { output: 'buffer' } }));
    const results = collector('results');
    helper.getNode('submit').receive({ payload: 'buffer mode' });
    const [r] = await results.next(1);
    assert.ok(Buffer.isBuffer(r.payload));
    const served = await bytesOf(r.ovi.result.videoURL);
    assert.ok(r.payload.equals(served), 'same bytes as the simulator serves');
    assert.strictEqual(r.ovi.bytes, served.length);
    assert.strictEqual(r.mimetype, 'video/mp4');
  });

  it('file mode: the file holds the exact bytes, with the right extension, written atomically', async () => {
    const template = path.join(tmp, 'media', '{{topic}}', '{{taskUUID}}-{{index}}.{{ext}}');
    await load(pipeline(sim, { submit: { outputFormat: 'MOV', numberResults: 2 }, poll: { output: 'file', filePath: template } }));
    const results = collector('results');
    helper.getNode('submit').receive({ payload: 'file mode', topic: '../../etc' });
    const rs = await results.next(2);
    for (const r of rs) {
      assert.ok(path.isAbsolute(r.filename));
      assert.ok(r.filename.startsWith(path.join(tmp, 'media') + path.sep), 'placeholders cannot escape the folder: ' + r.filename);
      assert.ok(r.filename.endsWith('-' + r.parts.index + '.mov'));
      const onDisk = fs.readFileSync(r.filename);
      assert.ok(onDisk.equals(await bytesOf(r.payload.videoURL)));
      assert.strictEqual(r.ovi.bytes, onDisk.length);
      assert.strictEqual(r.mimetype, 'video/quicktime');
    }
    const leftovers = fs.readdirSync(path.dirname(rs[0].filename)).filter((f) => f.endsWith('.part'));
    assert.deepStrictEqual(leftovers, []);
  });

  it('file mode with retention removes clips older than N days in that folder, nothing else', async () => {
    const dir = path.join(tmp, 'clips');
    fs.mkdirSync(dir, { recursive: true });
    const old = path.join(dir, 'old.mp4');
    const keep = path.join(dir, 'notes.txt');
    fs.writeFileSync(old, 'x');
    fs.writeFileSync(keep, 'x');
    const past = new Date(Date.now() - 10 * 86400000);
    fs.utimesSync(old, past, past);
    fs.utimesSync(keep, past, past);
    await load(pipeline(sim, { poll: { output: 'file', filePath: path.join(dir, '{{taskUUID}}.{{ext}}'), retentionDays: 7 } }));
    const results = collector('results');
    helper.getNode('submit').receive({ payload: 'retention' });
    const [r] = await results.next(1);
    await sleep(100);
    assert.ok(!fs.existsSync(old), 'the old clip is gone');
    assert.ok(fs.existsSync(keep), 'other files stay');
    assert.ok(fs.existsSync(r.filename), 'the new clip stays');
  });

  it('download failures are retried, then succeed', async () => {
    await load(pipeline(sim, { poll: { output: 'buffer' } }));
    const results = collector('results');
    sim.failMedia(2, 502);
    helper.getNode('submit').receive({ payload: 'flaky cdn' });
    const [r] = await results.next(1, 15000);
    assert.ok(Buffer.isBuffer(r.payload) && r.payload.length > 1000);
    assert.ok(sim.stats().mediaRequests >= 3);
  });

  it('download failures that persist surface as a download error on the msg', async () => {
    await load(pipeline(sim, { poll: { output: 'buffer' } }));
    const errors = collector('errors');
    const results = collector('results');
    sim.failMedia(20, 503);
    helper.getNode('submit').receive({ payload: 'dead cdn', topic: 'cam' });
    const [e] = await errors.next(1, 20000);
    assert.strictEqual(e.error.code, 'download');
    assert.match(e.error.message, /HTTP 503/);
    assert.strictEqual(e.topic, 'cam');
    assert.strictEqual(results.msgs.length, 0);
  });

  it('a video over the size cap is a clear error', async () => {
    await load(pipeline(sim, { poll: { output: 'buffer', maxBytes: 1000 } }));
    const errors = collector('errors');
    helper.getNode('submit').receive({ payload: 'too big' });
    const [e] = await errors.next(1);
    assert.strictEqual(e.error.code, 'download');
    assert.match(e.error.message, /larger than the 1000 bytes allowed/);
  });

  it('uploadEndpoint: a PUT receiver on 127.0.0.1 gets the exact bytes with the right Content-Type', async () => {
    const received = [];
    const server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        received.push({ method: req.method, url: req.url, type: req.headers['content-type'], body: Buffer.concat(chunks) });
        res.statusCode = 200;
        res.end();
      });
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    try {
      const target = 'http://127.0.0.1:' + server.address().port + '/bucket/clip.webm?X-Amz-Signature=abc';
      await load(pipeline(sim, { submit: { uploadEndpoint: target, outputFormat: 'WEBM' } }));
      const results = collector('results');
      helper.getNode('submit').receive({ payload: 'upload me' });
      const [r] = await results.next(1);
      for (let i = 0; i < 50 && received.length === 0; i++) await sleep(50);
      assert.strictEqual(received.length, 1);
      assert.strictEqual(received[0].method, 'PUT');
      assert.strictEqual(received[0].url, '/bucket/clip.webm?X-Amz-Signature=abc');
      assert.strictEqual(received[0].type, 'video/webm');
      assert.ok(received[0].body.equals(await bytesOf(r.payload.videoURL)));
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('cost: results carry it, the running total persists across a restart, the budget blocks the next submit with zero requests', async () => {
    helper.settings({ userDir: tmp });
    const flow = pipeline(sim, { submit: { includeCost: 'true' }, config: { budget: 0.08 } });
    await load(flow);
    let results = collector('results');
    helper.getNode('submit').receive({ payload: 'one' });
    const [r1] = await results.next(1);
    assert.strictEqual(r1.payload.cost, 0.0437);
    assert.strictEqual(r1.ovi.cost, 0.0437);
    assert.deepStrictEqual(helper.getNode('cfg').account.cost, { total: 0.0437, budget: 0.08, reserved: 0 });

    // restart: unload (close flushes the store), load again from the same userDir
    await helper.unload();
    await load(flow);
    await helper.getNode('cfg').account.ready;
    assert.strictEqual(helper.getNode('cfg').account.cost.total, 0.0437, 'the total survived the restart');
    results = collector('results');
    const errors = collector('errors');
    helper.getNode('submit').receive({ payload: 'two' });
    await results.next(1);
    assert.strictEqual(helper.getNode('cfg').account.cost.total, 0.0874);
    const before = apiRequests(sim).length;
    helper.getNode('submit').receive({ payload: 'three' });
    const [e] = await errors.next(1);
    assert.strictEqual(e.error.code, 'quota');
    assert.match(e.error.message, /budget of \$0\.08 .* is reached \(\$0\.0874 spent\): nothing was sent/);
    assert.strictEqual(apiRequests(sim).length, before, 'zero requests once the budget is reached');
  });

  it('a budget makes every task report its cost (includeCost is forced on)', async () => {
    await load(pipeline(sim, { config: { budget: 5 } }));
    const results = collector('results');
    helper.getNode('submit').receive({ payload: 'budgeted' });
    const [r] = await results.next(1);
    assert.strictEqual(r.payload.cost, 0.0437);
    const sent = apiRequests(sim).find((x) => x.bodyText.includes('videoInference')).bodyText;
    assert.ok(sent.includes('"includeCost":true'), sent);
  });

  it('the submit status follows the account: running while rendering, all done after', async () => {
    sim.configure({ renderMs: 300 });
    await load(pipeline(sim));
    const statuses = [];
    helper.getNode('submit').on('call:status', (c) => statuses.push(c.args[0].text));
    const results = collector('results');
    helper.getNode('submit').receive({ payload: 'status' });
    await results.next(1);
    // The status is throttled (a quarter second): give the last refresh time to land.
    for (let i = 0; i < 20 && !/ · all done$/.test(statuses[statuses.length - 1] || ''); i++) await sleep(50);
    assert.ok(
      statuses.some((t) => /^1 running$/.test(t || '')),
      JSON.stringify(statuses),
    );
    assert.match(statuses[statuses.length - 1], / · all done$/);
  });

  it('the cost endpoint answers the total for the editor', async () => {
    await load(pipeline(sim, { submit: { includeCost: 'true' } }));
    const results = collector('results');
    helper.getNode('submit').receive({ payload: 'cost endpoint' });
    await results.next(1);
    const res = await helper.request().get('/ovi/cost/cfg').expect(200);
    assert.deepStrictEqual(res.body, { total: 0.0437, budget: null, reserved: 0 });
    await helper.request().get('/ovi/cost/nope').expect(404);
  });
});
