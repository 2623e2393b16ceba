/**
 * ovi poll: waits for the results of the task named by msg.taskUUID and sends one msg per result.
 * The polling itself is the account's (one batched getResponse per tick for every task in flight);
 * this node claims tasks, so their results leave from its output.
 */
import { OviError } from './lib/errors';
import { configNode, numberSetting } from './lib/config-ref';
import { JobRecord, Sink } from './lib/job-hub';
import { isPlainObject, isUuidV4 } from './lib/field-check';
import { formatElapsed, resultMsg } from './lib/result-msg';
import { applyOutput, outputOptionsFrom } from './lib/result-output';
import type { DoneFn, Node, NodeDef, NodeMessage, RED, SendFn } from './lib/red-types';

interface Waiting {
  msg: NodeMessage;
  send: SendFn;
  done: DoneFn;
  since: number;
  progress?: number;
  outstanding: number; // results still being downloaded or written
  complete: boolean; // the task has no more results to come
  error?: OviError;
}

/** done() only once every result of the msg has left: a Complete node then means "all delivered". */
function settle(w: Waiting): void {
  if (!w.complete || w.outstanding > 0) return;
  if (w.error) {
    w.msg.error = w.error.toJSON();
    w.done(w.error);
  } else w.done();
}

export = function (RED: RED) {
  function OviPoll(this: Node, def: NodeDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const config = configNode(RED, def.config);
    const timing = {
      initialDelayMs: numberSetting(def.initialDelay, 5, 0) * 1000,
      intervalMs: Math.min(2000, numberSetting(def.maxInterval, 10, 0.05) * 1000),
      maxIntervalMs: numberSetting(def.maxInterval, 10, 0.05) * 1000,
    };
    const defaultTimeoutS = numberSetting(def.timeout, 1200, 0.001);
    const waiting = new Map<string, Waiting>();
    const output = outputOptionsFrom(def, RED.settings.userDir || process.cwd());
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
      const oldest = first.since;
      const progress = first.progress;
      const pct = progress !== undefined ? ' ' + progress + '%' : '';
      node.status({
        fill: 'blue',
        shape: 'dot',
        text: 'rendering ' + formatElapsed(Date.now() - oldest) + pct + (waiting.size > 1 ? ' (' + waiting.size + ' tasks)' : ''),
      });
      if (!ticker) ticker = setInterval(showStatus, 1000);
    }

    const sink: Sink = {
      result(rec: JobRecord, item, index) {
        const w = waiting.get(rec.taskUUID);
        const base = w ? RED.util.cloneMessage(w.msg) : (RED.util.cloneMessage(rec.msg) as NodeMessage);
        const out = resultMsg(base, rec, item, index);
        const complete = rec.delivered.length >= rec.numberResults;
        if (w) {
          w.outstanding++;
          if (complete) {
            w.complete = true;
            waiting.delete(rec.taskUUID);
          }
        }
        applyOutput(out, item, output, abort.signal)
          .then(() => (w ? w.send(out) : node.send(out)))
          .catch((e: unknown) => {
            const err = e instanceof OviError ? e : new OviError({ code: 'download', message: String(e) });
            err.taskUUID = rec.taskUUID;
            if (w) w.error ??= err;
            else {
              out.error = err.toJSON();
              node.error(err, out);
            }
          })
          .finally(() => {
            if (w) {
              w.outstanding--;
              settle(w);
            }
          });
        if (complete) {
          lastDone = rec.taskUUID.slice(0, 8);
          if (waiting.size === 0) showStatus();
        }
      },
      failure(rec: JobRecord, err: OviError) {
        const w = waiting.get(rec.taskUUID);
        waiting.delete(rec.taskUUID);
        if (w) {
          w.msg.taskUUID = rec.taskUUID;
          w.error = err;
          w.complete = true;
          settle(w);
        } else {
          const msg = RED.util.cloneMessage(rec.msg) as NodeMessage;
          msg.taskUUID = rec.taskUUID;
          msg.error = err.toJSON();
          node.error(err, msg);
        }
        node.status({ fill: 'red', shape: 'ring', text: err.code + ' ' + rec.taskUUID.slice(0, 8) });
        showStatus();
      },
      progress(rec, info) {
        const w = waiting.get(rec.taskUUID);
        if (w && info.progress !== undefined) w.progress = info.progress;
      },
    };
    config?.account.addSink(node.id, sink, 'poll');

    node.on('input', (msg, _send, done) => {
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

        waiting.set(taskUUID, { msg, send: _send, done, since: Date.now(), outstanding: 0, complete: false });
        if (!ticker) showStatus(); // the ticker refreshes it every second anyway
        // Claim replays what already arrived; a task this account never saw is recorded now.
        let rec = config.account.hub.claim(taskUUID, node.id, deadline);
        if (!rec) {
          const task = isPlainObject(msg.ovi) && isPlainObject(msg.ovi.task) ? msg.ovi.task : {};
          const n = task.numberResults;
          rec = {
            taskUUID,
            numberResults: typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 4 ? n : 1,
            outputFormat: typeof task.outputFormat === 'string' ? task.outputFormat : 'MP4',
            via: 'poll',
            ownerId: node.id,
            msg: {},
            createdAt: Date.now(),
            deadline,
            delivered: [],
            done: false,
          };
          config.account.hub.add(rec);
        }
        if (!rec.done) config.account.poll(taskUUID, timing);
      } catch (e) {
        const err = e instanceof OviError ? e : new OviError({ code: 'validation', message: String(e) });
        if (typeof msg.taskUUID === 'string') waiting.delete(msg.taskUUID);
        msg.error = err.toJSON();
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
  }

  RED.nodes.registerType('ovi-poll', OviPoll);
};
