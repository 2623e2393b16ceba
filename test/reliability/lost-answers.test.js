'use strict';
// Never lose a job, never pay twice, answer by answer: scripted sequences of lost, cut and refused
// answers around one submit (retries: 1, so each sequence covers every attempt and probe). Whatever
// happens, the task has exactly one outcome, is accepted at most once, and a task Runware accepted
// (and bills) reaches the flow as its result, not as a submit failure.
const assert = require('assert');
const { helper, startSim, pipeline, load } = require('../helpers');
const { sleep, report } = require('./support');

const API_KEY = 'rel-lost-key-Pa3Kd8Mv1Zs6';

// Each request consumes the next fault: submit attempt, then (after a failure that Runware may have
// acted on) a getResponse probe, then the next attempt, then a last probe.
const SEQUENCES = [
  { faults: ['reset', 'reset', 'none'], note: 'answer lost, probe lost, resend meets duplicateTaskUUID' },
  { faults: ['503', '503', 'none'], note: 'refused, probe refused, resend accepted' },
  { faults: ['503', '503', '503', '503'], note: 'refused every time: one failure, nothing accepted' },
  { faults: ['429', '429'], note: 'rate limited every time: one failure, nothing accepted' },
  { faults: ['reset', '503', 'reset', '503'], note: 'accepted, then every answer and probe lost' },
  { faults: ['malformed', '503', 'malformed', '503'], note: 'accepted, every answer cut short, probes refused' },
];

describe('reliability: lost answers around a submit', function () {
  this.timeout(120000);
  let sim;
  before(async () => {
    sim = await startSim({ apiKeys: [API_KEY], renderMs: 200, retryAfterSeconds: 0 });
    await helper.startServer();
  });
  after(async () => {
    await helper.stopServer();
    await sim.close();
  });
  afterEach(() => helper.unload());

  for (const { faults, note } of SEQUENCES) {
    it(faults.join(' → ') + ': ' + note, async () => {
      sim.reset();
      await load(pipeline(sim, { config: { retries: 1, timeout: 2 }, poll: { timeout: 30 } }), { cfg: { apiKey: API_KEY } });
      const outcomes = [];
      helper.getNode('results').on('input', (m) => outcomes.push({ kind: 'result', taskUUID: m.taskUUID }));
      helper.getNode('errors').on('input', (m) => outcomes.push({ kind: 'failure', code: m.error.code, message: m.error.message, taskUUID: m.taskUUID }));
      sim.queueFaults(faults);
      helper.getNode('submit').receive({ payload: 'lost answers' });
      const until = Date.now() + 20000;
      while (outcomes.length === 0 && Date.now() < until) await sleep(50);
      await sleep(800); // a second outcome would show here
      const accepted = Object.values(sim.stats().acceptedByUUID);
      report('lost answers', {
        faults: faults.join(','),
        accepted: accepted.length,
        outcomes: outcomes.map((o) => o.kind + (o.code ? '/' + o.code : '')).join(',') || 'none',
        requests: sim.stats().apiRequests,
      });
      assert.strictEqual(outcomes.length, 1, 'exactly one outcome: ' + JSON.stringify(outcomes));
      assert.ok(
        accepted.every((c) => c === 1),
        'accepted at most once',
      );
      if (accepted.length === 1) {
        assert.strictEqual(outcomes[0].kind, 'result', 'Runware accepted (and bills) the task, yet the flow was told: ' + JSON.stringify(outcomes[0]));
      } else {
        assert.strictEqual(outcomes[0].kind, 'failure', 'nothing accepted: the flow gets a failure');
      }
    });
  }
});
