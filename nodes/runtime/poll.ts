/**
 * ovi poll: waits for the outcomes of the task named by msg.taskUUID: one msg per result on its
 * output, one Catch msg per failed generation, then done() so a Complete node fires once per task.
 * The polling itself is the account's (one batched getResponse per tick for every task in flight);
 * this node claims tasks, so their outcomes leave from its output.
 */
import { OviError } from '../lib/errors';
import { configNode, numberSetting } from '../lib/config-ref';
import { JobRecord, Sink } from '../lib/job-hub';
import { isPlainObject, isUuidV4 } from '../lib/field-check';
import { NODE_DEFAULTS, setting } from '../lib/node-defaults';
import { reportError, safely, toNodeError } from '../lib/node-emit';
import { failureMsg, formatElapsed, outcomeBase, resultMsg } from '../lib/result-msg';
import { OutputGuard, applyOutput, outputOptionsFrom } from '../lib/result-output';
import type { DoneFn, Node, NodeDef, NodeMessage, RED, SendFn } from '../lib/red-types';

interface Waiting {
  msg: NodeMessage;
  send: SendFn;
  done: DoneFn;
  since: number;
  progress?: number;
  outstanding: number; // results still being downloaded or written
  settled: boolean; // every generation has its outcome
}

/** done() once every outcome of the msg has left: a Complete node then means "all delivered". */
function finish(w: Waiting): void {
  if (w.settled && w.outstanding === 0) w.done();
}

export function setup(RED: RED): (this: Node, def: NodeDef) => void {
  return function OviPoll(this: Node, def: NodeDef) {
    const node = this;
    const get = (key: string) => setting('ovi-poll', def, key);
    const config = configNode(RED, def.config);
    const maxIntervalS = numberSetting(get('maxInterval'), NODE_DEFAULTS['ovi-poll'].maxInterval as number, 0.05);
    const timing = {
      initialDelayMs: numberSetting(get('initialDelay'), NODE_DEFAULTS['ovi-poll'].initialDelay as number, 0) * 1000,
      intervalMs: Math.min(2000, maxIntervalS * 1000),
      maxIntervalMs: maxIntervalS * 1000,
    };
    const defaultTimeoutS = numberSetting(get('timeout'), NODE_DEFAULTS['ovi-poll'].timeout as number, 0.001);
    const waiting = new Map<string, Waiting>();
    const output = outputOptionsFrom('ovi-poll', def, RED.settings.userDir || process.cwd());
    const guard: OutputGuard = {
      account: config?.account,
      acceptForeign: output.acceptForeign,
      written: (file, item) => config?.account.noteFile(item.taskUUID, file, item),
    };
    const abort = new AbortController();
    let ticker: NodeJS.Timeout | undefined;

    let lastDone = '';
    /** Runs on input and then once a second while tasks wait (not per result: status is an editor event). */
    function showStatus(): void {
      if (waiting.size === 0) {
        if (ticker) clearInterval(ticker);
        ticker = undefined;
        if (lastDone) node.status({ fill: 'green', shape: 'dot', text: 'done ' + lastDone });
        return;
      }
      // A Map iterates in insertion order: its first entry is the task waiting longest.
      const first = waiting.values().next().value as Waiting;
      const pct = first.progress !== undefined ? ' ' + first.progress + '%' : '';
      node.status({
        fill: 'blue',
        shape: 'dot',
        text: formatElapsed(Date.now() - first.since) + pct + (waiting.size > 1 ? ' · ' + waiting.size + ' tasks' : ''),
      });
      if (!ticker) ticker = setInterval(showStatus, 1000);
    }

    /** The msg an outcome of this task leaves with: the asking msg's properties, or the submit-time snapshot. */
    const baseFor = (rec: JobRecord, w: Waiting | undefined): NodeMessage =>
      outcomeBase(RED.util.cloneMessage((w ? w.msg : rec.msg) as NodeMessage) as NodeMessage);

    const sink: Sink = {
      result(rec: JobRecord, item, index) {
        const w = waiting.get(rec.taskUUID);
        const out = resultMsg(baseFor(rec, w), rec, item, index);
        if (w) w.outstanding++;
        applyOutput(out, item, output, guard, abort.signal)
          .then(() => safely(node, 'send a result', () => (w ? w.send(out) : node.send(out))))
          .catch((e: unknown) => reportError(node, toNodeError(node, e, 'ovi poll output'), out))
          .finally(() => {
            if (w) {
              w.outstanding--;
              finish(w);
            }
          });
      },
      failure(rec: JobRecord, err: OviError, index) {
        reportError(node, err, failureMsg(baseFor(rec, waiting.get(rec.taskUUID)), rec, index));
        safely(node, 'set status', () => node.status({ fill: 'red', shape: 'ring', text: err.code + ' ' + rec.taskUUID.slice(0, 8) }));
      },
      settled(rec: JobRecord) {
        const w = waiting.get(rec.taskUUID);
        waiting.delete(rec.taskUUID);
        if (rec.delivered.length > 0) lastDone = rec.taskUUID.slice(0, 8);
        if (w) {
          w.settled = true;
          finish(w);
        }
        if (waiting.size === 0) showStatus();
      },
      progress(rec, info) {
        const w = waiting.get(rec.taskUUID);
        if (w && info.progress !== undefined) w.progress = info.progress;
      },
    };
    config?.account.addSink(node.id, sink, 'poll');

    node.on('input', (msg, send, done) => {
      try {
        if (!config) throw new OviError({ code: 'validation', parameter: 'config', message: 'no ovi-config node is selected (or it failed to start)' });
        const uuid = msg.taskUUID;
        if (!isUuidV4(uuid))
          throw new OviError({
            code: 'validation',
            parameter: 'taskUUID',
            message: 'msg.taskUUID must be the UUID of a submitted task, got ' + JSON.stringify(uuid ?? null).slice(0, 60),
          });
        const taskUUID = uuid as string;
        if (waiting.has(taskUUID))
          throw new OviError({ code: 'validation', parameter: 'taskUUID', taskUUID, message: 'task ' + taskUUID + ' is already being polled by this node' });
        const timeoutS = typeof msg.timeout === 'number' && Number.isFinite(msg.timeout) && msg.timeout > 0 ? msg.timeout : defaultTimeoutS;
        const deadline = Date.now() + timeoutS * 1000;

        waiting.set(taskUUID, { msg, send, done, since: Date.now(), outstanding: 0, settled: false });
        if (!ticker) showStatus(); // the ticker refreshes it every second anyway
        // Claim replays what already arrived; a task this account never saw is recorded now.
        let rec = config.account.hub.claim(taskUUID, node.id, deadline);
        if (!rec) {
          // msg.ovi.task (from an ovi submit, maybe across a link or a function node) tells how many results to expect.
          const task = isPlainObject(msg.ovi) && isPlainObject(msg.ovi.task) ? msg.ovi.task : {};
          const n = task.numberResults;
          rec = {
            taskUUID,
            numberResults: typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 4 ? n : 1,
            outputFormat: typeof task.outputFormat === 'string' ? task.outputFormat : 'MP4',
            via: 'poll',
            ownerId: node.id,
            claimed: true,
            msg: {},
            createdAt: Date.now(),
            deadline,
            delivered: [],
            failed: [],
            done: false,
            acked: true, // the user says the task exists: "not found" is news, not a late arrival
          };
          config.account.hub.add(rec);
        }
        if (!rec.done) config.account.poll(taskUUID, timing);
      } catch (e) {
        const err = toNodeError(node, e, 'ovi poll');
        if (typeof msg.taskUUID === 'string' && waiting.get(msg.taskUUID)?.msg === msg) waiting.delete(msg.taskUUID);
        done(err);
      }
    });

    node.on('close', (_removed, done) => {
      abort.abort();
      if (ticker) clearInterval(ticker);
      ticker = undefined;
      config?.account.removeSink(node.id, sink);
      waiting.clear();
      node.status({});
      done();
    });
  };
}
