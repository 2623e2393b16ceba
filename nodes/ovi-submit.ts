/**
 * ovi submit: one msg in → one validated videoInference task submitted (async) → the msg out with
 * msg.taskUUID and the acknowledgment. Invalid input never reaches Runware: it fails via done(err).
 */
import { OviError } from './lib/errors';
import { configNode, numberSetting, OviConfigNode } from './lib/config-ref';
import { imageToInput } from './lib/image-input';
import { JobRecord } from './lib/job-hub';
import { isLocalUrl, joinUrl, replaceToken, snapshotMsg } from './lib/msg-snapshot';
import { DEFAULT_TIMING } from './lib/poll-scheduler';
import { buildTask } from './lib/task-build';
import type { Node, NodeDef, NodeMessage, RED, SendFn } from './lib/red-types';

type Delivery = 'poll' | 'webhook' | 'custom';

interface WebhookTarget {
  url: string;
  ownerId: string;
}

export = function (RED: RED) {
  function evaluate(value: unknown, type: unknown, node: Node, msg: NodeMessage): Promise<unknown> {
    if (typeof type !== 'string' || type === '') return Promise.resolve(value);
    return new Promise((resolve, reject) => {
      RED.util.evaluateNodeProperty(value, type, node, msg, (err, result) => (err ? reject(err) : resolve(result)));
    });
  }

  /** Where Runware must POST results for a chosen ovi-webhook node (same account, reachable URL). */
  function webhookTarget(config: OviConfigNode, webhookId: unknown): WebhookTarget {
    const hook = typeof webhookId === 'string' && webhookId ? RED.nodes.getNode(webhookId) : null;
    const fail = (message: string) => new OviError({ code: 'validation', parameter: 'webhookURL', message });
    if (!hook || hook.type !== 'ovi-webhook') throw fail('delivery is "webhook node" but no deployed ovi webhook node is selected');
    const h = hook as Node & { path?: string; configId?: string; webhookToken?: string };
    if (h.configId !== config.id) throw fail('the selected ovi webhook node uses another ovi-config node: results would not be correlated');
    const token = h.webhookToken;
    if (!token) throw fail('the selected ovi webhook node is not running (Node-RED has no HTTP node server?)');
    if (!config.publicUrl) throw fail('the ovi-config node has no public URL: Runware needs one to reach this Node-RED (see the ovi webhook help)');
    if (isLocalUrl(config.publicUrl) && !isLocalUrl(config.endpoint)) {
      throw fail(
        'the public URL ' + config.publicUrl + ' points at this machine: Runware cannot reach it. Use an address Runware can reach (reverse proxy or tunnel)',
      );
    }
    const root = typeof RED.settings.httpNodeRoot === 'string' ? RED.settings.httpNodeRoot : '/';
    return { url: joinUrl(config.publicUrl, root, h.path ?? '') + '?token=' + encodeURIComponent(token), ownerId: hook.id };
  }

  function OviSubmit(this: Node, def: NodeDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const delivery: Delivery = def.delivery === 'webhook' || def.delivery === 'custom' ? def.delivery : 'poll';
    const timeoutMs = numberSetting(def.timeout, 1200, 1) * 1000;
    const fallbackMs = numberSetting(def.fallbackAfter, 0, 0) * 1000;

    const showStatus = (fill: 'blue' | 'green' | 'yellow' | 'red' | 'grey', text: string, shape: 'dot' | 'ring' = 'dot') => node.status({ fill, shape, text });

    async function handle(msg: NodeMessage, send: SendFn): Promise<void> {
      const config = configNode(RED, def.config);
      if (!config) throw new OviError({ code: 'validation', parameter: 'config', message: 'no ovi-config node is selected (or it failed to start)' });

      const prompt = await evaluate(def.positivePrompt, def.positivePromptType, node, msg);
      const imageSetting = msg.image !== undefined && msg.image !== null ? msg.image : await evaluate(def.image, def.imageType ?? 'msg', node, msg);
      const imageSource = msg.image !== undefined && msg.image !== null ? 'msg.image' : 'the image setting';
      const image = imageSetting === undefined || imageSetting === null || imageSetting === '' ? undefined : imageToInput(imageSetting, imageSource);

      let target: WebhookTarget | undefined;
      let webhookURL: string | undefined;
      if (delivery === 'webhook') {
        target = webhookTarget(config, def.webhookNode);
        webhookURL = target.url;
      } else if (delivery === 'custom' && typeof def.webhookURL === 'string' && def.webhookURL.trim()) {
        webhookURL = def.webhookURL.trim();
      }

      const built = buildTask({ settings: def, prompt, image, payload: msg.payload, taskUUID: msg.taskUUID, webhookURL });
      if (config.account.tracksCost) {
        // A budget counts what results report: ask Runware to report it.
        built.task.includeCost = true;
        built.plain.includeCost = true;
      }
      const task = built.task;
      const uuid = task.taskUUID as string;
      msg.taskUUID = uuid;
      const now = Date.now();
      const rec: JobRecord = {
        taskUUID: uuid,
        numberResults: task.numberResults ?? 1,
        steps: task.steps,
        hasImage: task.inputs?.image !== undefined,
        outputFormat: task.outputFormat ?? 'MP4',
        via: target ? 'webhook' : 'poll',
        ownerId: target?.ownerId,
        submitterId: node.id,
        msg: snapshotMsg(msg),
        createdAt: now,
        deadline: now + timeoutMs,
        pollFrom: target && fallbackMs > 0 ? now + fallbackMs : undefined,
        delivered: [],
        done: false,
      };
      const tracked = delivery !== 'custom';
      const ack = await config.account.submit(task as Record<string, unknown> & { taskUUID: string }, tracked ? rec : undefined, () =>
        showStatus('yellow', 'queued ' + (config.account.queued + 1) + ' · running ' + config.account.running, 'ring'),
      );
      // Poll mode: the account polls from now on and parks results until an ovi poll node claims
      // the task. Webhook mode polls only as the optional fallback.
      if (rec.via === 'poll' && tracked) config.account.poll(uuid);
      else if (rec.pollFrom !== undefined) config.account.poll(uuid, DEFAULT_TIMING, rec.pollFrom);
      msg.payload = ack;
      // msg.ovi.task is the task as sent, minus secrets: the webhook token stays out of msgs.
      const shown = { ...built.plain };
      if (typeof shown.webhookURL === 'string') shown.webhookURL = replaceToken(shown.webhookURL, '***');
      msg.ovi = { task: shown, delivery, submittedAt: new Date(now).toISOString() };
      send(msg);
    }

    // Keep the counts in the status current while this account has work (not only at submit time).
    let lastSubmitted = '';
    const account = configNode(RED, def.config)?.account;
    // Throttled: node.status is a runtime event sent to every editor, and counts change per task.
    let statusTimer: NodeJS.Timeout | undefined;
    const refreshCounts = () => {
      statusTimer = undefined;
      if (!lastSubmitted || !account) return;
      const busy = account.running + account.queued > 0;
      const counts = busy ? ' · running ' + account.running + (account.queued ? ' · queued ' + account.queued : '') : ' · all done';
      showStatus(busy ? 'green' : 'grey', 'submitted ' + lastSubmitted + counts, busy ? 'dot' : 'ring');
    };
    const unsubscribe = account?.onChange(() => {
      statusTimer ??= setTimeout(refreshCounts, 250);
    });

    node.on('input', (msg, send, done) => {
      if (!lastSubmitted) showStatus('blue', 'submitting');
      handle(msg, send)
        .then(() => {
          lastSubmitted = String(msg.taskUUID).slice(0, 8);
          statusTimer ??= setTimeout(refreshCounts, 250);
          done();
        })
        .catch((e: unknown) => {
          const err = e instanceof OviError ? e : new OviError({ code: 'validation', message: e instanceof Error ? e.message : String(e), retryable: false });
          if (err.code === 'cancelled') {
            // Closed mid-submit (redeploy, shutdown): the job is persisted and the next instance
            // finishes it, so this is not a failure of the task.
            done();
            return;
          }
          if (err.taskUUID === undefined && typeof msg.taskUUID === 'string') err.taskUUID = msg.taskUUID;
          msg.error = err.toJSON();
          showStatus('red', err.code + ': ' + err.message.slice(0, 40), 'ring');
          done(err);
        });
    });

    node.on('close', (_removed, done) => {
      unsubscribe?.();
      if (statusTimer) clearTimeout(statusTimer);
      node.status({});
      done();
    });
  }

  RED.nodes.registerType('ovi-submit', OviSubmit);
};
