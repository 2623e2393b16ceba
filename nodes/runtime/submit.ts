/**
 * ovi submit: one msg in → one validated videoInference task submitted (async) → the msg out with
 * msg.taskUUID and the acknowledgment. Invalid input never reaches Runware: it fails via done(err).
 */
import { OviError, shortText } from '../lib/errors';
import { configNode, numberSetting, OviConfigNode } from '../lib/config-ref';
import { readFileSync } from 'fs';
import * as path from 'path';
import { checkFieldValue, labelKey, setFieldLabels } from '../lib/field-check';
import { FlowNode, reachable } from '../lib/flow-wiring';
import { imageToInput } from '../lib/image-input';
import { JobRecord } from '../lib/job-hub';
import { isLocalUrl, joinUrl, replaceToken, snapshotMsg } from '../lib/msg-snapshot';
import { NODE_DEFAULTS, setting, typedInput } from '../lib/node-defaults';
import { errorStatus, reportError, safely, toNodeError } from '../lib/node-emit';
import { DEFAULT_TIMING } from '../lib/poll-scheduler';
import { failureMsg } from '../lib/result-msg';
import { buildTask } from '../lib/task-build';
import type { Node, NodeDef, NodeMessage, RED, SendFn } from '../lib/red-types';

type Delivery = 'poll' | 'webhook' | 'custom';

interface WebhookTarget {
  url: string;
  ownerId: string;
}

const looksLikeImage = (v: string) => checkFieldValue({ path: 'inputs.image', group: 'core', kind: 'image' }, v) === null;

/** The form's words for fields (Node-RED's runtime language, else the English catalog beside the nodes). */
function formLabels(RED: RED): (fieldPath: string) => string | undefined {
  let english: Record<string, string> = {};
  try {
    english = (
      JSON.parse(readFileSync(path.join(__dirname, '..', 'locales', 'en-US', 'ovi-submit.json'), 'utf8')) as { 'ovi-submit': { label: Record<string, string> } }
    )['ovi-submit'].label;
  } catch {
    // no catalog beside the nodes (a source checkout): API names only
  }
  return (fieldPath) => {
    const key = labelKey(fieldPath);
    const id = 'ovi-submit.label.' + key;
    const translated = RED._(id);
    return typeof translated === 'string' && translated && !translated.endsWith(id) ? translated : english[key];
  };
}

export function setup(RED: RED): (this: Node, def: NodeDef) => void {
  setFieldLabels(formLabels(RED));
  function evaluate(what: string, input: { type: string; value: string } | undefined, node: Node, msg: NodeMessage): Promise<unknown> {
    if (!input) return Promise.resolve(undefined);
    if (input.type === 'str') return Promise.resolve(input.value);
    return new Promise((resolve, reject) => {
      try {
        RED.util.evaluateNodeProperty(input.value, input.type, node, msg, (err, result) =>
          err
            ? reject(
                new OviError({
                  code: 'validation',
                  parameter: what,
                  message: what + ' (' + input.type + ' ' + input.value + ') could not be read: ' + err.message,
                }),
              )
            : resolve(result),
        );
      } catch (e) {
        reject(
          new OviError({ code: 'validation', parameter: what, message: what + ' (' + input.type + ' ' + input.value + ') could not be read: ' + String(e) }),
        );
      }
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

  return function OviSubmit(this: Node, def: NodeDef) {
    const node = this;
    const get = (key: string) => setting('ovi-submit', def, key);
    const rawDelivery = get('delivery');
    const delivery: Delivery = rawDelivery === 'webhook' || rawDelivery === 'custom' ? rawDelivery : 'poll';
    const timeoutMs = numberSetting(get('timeout'), NODE_DEFAULTS['ovi-submit'].timeout as number, 1) * 1000;
    const fallbackMs = numberSetting(get('fallbackAfter'), 0, 0) * 1000;
    const promptInput = typedInput('prompt', def.positivePrompt, def.positivePromptType);
    const imageInput = typedInput('image', def.image, def.imageType, looksLikeImage);
    const promptIsPayload = promptInput?.type === 'msg' && promptInput.value === 'payload';

    const showStatus = (fill: 'blue' | 'green' | 'yellow' | 'red' | 'grey', text: string, shape: 'dot' | 'ring' = 'dot') => node.status({ fill, shape, text });

    async function handle(msg: NodeMessage, send: SendFn): Promise<void> {
      const config = configNode(RED, def.config);
      if (!config) throw new OviError({ code: 'validation', parameter: 'config', message: 'no ovi-config node is selected (or it failed to start)' });

      const prompt = await evaluate('the prompt setting', promptIsPayload ? undefined : promptInput, node, msg);
      if (prompt !== undefined && prompt !== null && typeof prompt !== 'string') {
        throw new OviError({
          code: 'validation',
          parameter: 'positivePrompt',
          message:
            'the prompt setting (' +
            promptInput?.type +
            ' ' +
            promptInput?.value +
            ') must give text, got a ' +
            (Array.isArray(prompt) ? 'array' : typeof prompt),
        });
      }
      const fromMsg = msg.image !== undefined && msg.image !== null && msg.image !== '';
      const imageSetting = fromMsg ? msg.image : await evaluate('the image setting', imageInput, node, msg);
      const image =
        imageSetting === undefined || imageSetting === null || imageSetting === ''
          ? undefined
          : imageToInput(imageSetting, fromMsg ? 'msg.image' : 'the image setting');

      let target: WebhookTarget | undefined;
      let webhookURL: string | undefined;
      if (delivery === 'webhook') {
        target = webhookTarget(config, get('webhookNode'));
        webhookURL = target.url;
      } else if (delivery === 'custom') {
        const url = get('webhookURL');
        if (typeof url === 'string' && url.trim()) webhookURL = url.trim();
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
        outputFormat: task.outputFormat ?? 'MP4',
        via: target ? 'webhook' : delivery === 'custom' ? 'custom' : 'poll',
        ownerId: target?.ownerId,
        submitterId: node.id,
        msg: snapshotMsg(msg),
        createdAt: now,
        deadline: now + timeoutMs,
        pollFrom: target && fallbackMs > 0 ? now + fallbackMs : undefined,
        delivered: [],
        failed: [],
        done: false,
        steps: task.steps,
        hasImage: task.inputs !== undefined,
      };
      const ack = await config.account.submit(task as Record<string, unknown> & { taskUUID: string }, rec, () =>
        showStatus('yellow', 'queued ' + (config.account.queued + 1) + ' · running ' + config.account.running, 'ring'),
      );
      // Poll mode: the account polls from now on; an ovi poll node claims the task to emit its
      // results. Webhook mode polls only as the optional fallback; custom never.
      if (rec.via === 'poll') config.account.poll(uuid);
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
    let wiringWarning = '';
    const config = configNode(RED, def.config);
    const account = config?.account;
    // Throttled: node.status is a runtime event sent to every editor, and counts change per task.
    let statusTimer: NodeJS.Timeout | undefined;
    const refreshCounts = () => {
      statusTimer = undefined;
      if (!lastSubmitted || !account) return;
      const busy = account.running + account.queued > 0;
      // Short: it sits under the node, beside the next node's status in a compact flow.
      const text = busy ? account.running + ' running' + (account.queued ? ' · ' + account.queued + ' queued' : '') : 'sent · all done';
      showStatus(busy ? 'green' : 'grey', text, busy ? 'dot' : 'ring');
    };
    const unsubscribe = account?.onChange(() => {
      statusTimer ??= setTimeout(refreshCounts, 250);
    });

    // Outcomes that no node can emit (nothing claimed the task): reported here, through Catch nodes.
    const reporter = (rec: JobRecord, err: OviError) => {
      const msg = failureMsg(RED.util.cloneMessage(rec.msg) as NodeMessage, rec, 0);
      delete msg.parts;
      reportError(node, err, msg);
      safely(node, 'set status', () => node.status(errorStatus(err)));
    };
    account?.addReporter(node.id, reporter);

    // At deploy: does anything collect the results this node's tasks will have?
    const wiringTimer = setTimeout(() => {
      safely(node, 'check the wiring', () => {
        wiringWarning = checkWiring(RED, node, delivery, def);
        if (!wiringWarning) return;
        node.warn(wiringWarning);
        if (!lastSubmitted) showStatus('yellow', shortText(wiringWarning.split(':')[0], 48), 'ring');
      });
    }, 0);

    node.on('input', (msg, send, done) => {
      if (!lastSubmitted) showStatus('blue', 'submitting');
      handle(msg, send)
        .then(() => {
          lastSubmitted = String(msg.taskUUID).slice(0, 8);
          statusTimer ??= setTimeout(refreshCounts, 250);
          done();
        })
        .catch((e: unknown) => {
          const err = toNodeError(node, e, 'ovi submit');
          if (err.code === 'cancelled') {
            // Closed mid-submit (redeploy, shutdown): the job is persisted and the next instance
            // finishes it, so this is not a failure of the task.
            done();
            return;
          }
          if (err.taskUUID === undefined && typeof msg.taskUUID === 'string') err.taskUUID = msg.taskUUID;
          safely(node, 'set status', () => node.status(errorStatus(err)));
          done(err);
        });
    });

    node.on('close', (_removed, done) => {
      clearTimeout(wiringTimer);
      unsubscribe?.();
      account?.removeReporter(node.id, reporter);
      if (statusTimer) clearTimeout(statusTimer);
      node.status({});
      done();
    });
  };
}

/** A deploy-time warning about results no node will emit, or that leave elsewhere than the help says. */
function checkWiring(RED: RED, node: Node, delivery: Delivery, def: NodeDef): string {
  if (!RED.nodes.eachNode || delivery === 'custom') return '';
  const nodes = new Map<string, FlowNode>();
  RED.nodes.eachNode((n) => nodes.set(n.id, n as FlowNode));
  if (!nodes.has(node.id)) return ''; // inside a subflow instance: its wiring is not ours to read
  const polls = reachable(nodes, node.id, 'ovi-poll').filter((p) => p.config === def.config);
  if (delivery === 'poll' && polls.length === 0) {
    return (
      'no ovi poll is wired after this node: results of its tasks are kept for an ovi poll to claim ' +
      '(send msg.taskUUID to one), else reported as "unclaimed" errors here; an ovi webhook node emits them only when it is the task\'s webhookURL'
    );
  }
  if (delivery === 'webhook' && polls.length > 0) {
    return (
      'delivery is "webhook node" but this node is wired to ovi poll ' +
      polls.map((p) => p.id).join(', ') +
      ': that ovi poll claims each task, so results leave from it, not from the ovi webhook node'
    );
  }
  return '';
}
