'use strict';
// The flows the bench deploys: ours (ovi submit → ovi poll, or ovi submit → ovi webhook), the
// hand-built core-node flow of bench/hand-built-flow.json, and the webhook-ingest pair. Results end in
// a `junction` with no wires (the cheapest node there is), where the bench listens for them.
const fs = require('fs');
const path = require('path');

const API_KEY = 'bench-key-0123456789';
const WEBHOOK_TOKEN = 'bench-token-5f2b8c9e0a1d4e7f9b3c6a8d2e4f6a8b';

function tab(id) {
  return { id, type: 'tab', label: id, disabled: false, info: '' };
}

function place(nodes, z) {
  return nodes.map((n, i) => ({ x: 150 + 150 * i, y: 100, z, ...n }));
}

function config(id, simUrl, extra = {}) {
  // maxConcurrent 0: no cap, every task in flight at once (the cap would otherwise queue them).
  return {
    id,
    type: 'ovi-config',
    name: 'bench',
    endpoint: simUrl,
    publicUrl: '',
    timeout: 60,
    maxConcurrent: 0,
    retries: 4,
    budget: 0,
    store: '',
    credentials: { apiKey: API_KEY },
    ...extra,
  };
}

function submit(id, cfg, extra = {}) {
  return {
    id,
    type: 'ovi-submit',
    name: '',
    config: cfg,
    positivePrompt: 'payload',
    positivePromptType: 'msg',
    image: 'image',
    imageType: 'msg',
    advancedFeatures: {},
    safety: {},
    acceleratorOptions: {},
    delivery: 'poll',
    timeout: 1200,
    ...extra,
  };
}

/** ovi submit → ovi poll → sink; failures → catch → errors. Ids are unique per call (fresh job store). */
function oursPoll(prefix, simUrl, { initialDelayS, maxIntervalS, timeoutS = 1200 }) {
  const z = prefix + '.tab';
  const cfg = prefix + '.cfg';
  return [
    tab(z),
    config(cfg, simUrl),
    ...place(
      [
        submit(prefix + '.submit', cfg, { wires: [[prefix + '.poll']] }),
        {
          id: prefix + '.poll',
          type: 'ovi-poll',
          name: '',
          config: cfg,
          initialDelay: initialDelayS,
          maxInterval: maxIntervalS,
          timeout: timeoutS,
          output: 'url',
          wires: [[prefix + '.sink']],
        },
        { id: prefix + '.sink', type: 'junction', wires: [[]] },
        { id: prefix + '.catch', type: 'catch', name: '', scope: null, uncaught: false, wires: [[prefix + '.errors']] },
        { id: prefix + '.errors', type: 'junction', wires: [[]] },
      ],
      z,
    ),
  ];
}

/** ovi submit (delivery: webhook node) … ovi webhook → sink. */
function oursWebhook(prefix, simUrl, publicUrl, hookPath) {
  const z = prefix + '.tab';
  const cfg = prefix + '.cfg';
  return [
    tab(z),
    config(cfg, simUrl, { publicUrl }),
    ...place(
      [
        submit(prefix + '.submit', cfg, { delivery: 'webhook', webhookNode: prefix + '.hook', fallbackAfter: 0, wires: [[prefix + '.acks']] }),
        { id: prefix + '.acks', type: 'junction', wires: [[]] },
        {
          id: prefix + '.hook',
          type: 'ovi-webhook',
          name: '',
          config: cfg,
          path: hookPath,
          maxBody: 1048576,
          output: 'url',
          credentials: { token: WEBHOOK_TOKEN },
          wires: [[prefix + '.sink']],
        },
        { id: prefix + '.sink', type: 'junction', wires: [[]] },
        { id: prefix + '.catch', type: 'catch', name: '', scope: null, uncaught: false, wires: [[prefix + '.errors']] },
        { id: prefix + '.errors', type: 'junction', wires: [[]] },
      ],
      z,
    ),
  ];
}

/**
 * bench/hand-built-flow.json as committed, with its delay set to the bench's poll interval and its
 * debug nodes switched off (the bench counts what reaches them).
 */
function handBuilt(delayMs) {
  const nodes = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'hand-built-flow.json'), 'utf8'));
  for (const n of nodes) {
    if (n.type === 'delay') {
      n.timeout = String(delayMs);
      n.timeoutUnits = 'milliseconds';
    }
    if (n.type === 'debug') n.active = false;
  }
  return nodes;
}

/** Webhook ingest: ovi webhook → sink, and core http in → http response, side by side. */
function ingestFlows(simUrl, oviPath, corePath) {
  const z = 'ing.tab';
  return [
    tab(z),
    config('ing.cfg', simUrl),
    ...place(
      [
        {
          id: 'ing.hook',
          type: 'ovi-webhook',
          name: '',
          config: 'ing.cfg',
          path: oviPath,
          maxBody: 1048576,
          output: 'url',
          credentials: { token: WEBHOOK_TOKEN },
          wires: [['ing.sink']],
        },
        { id: 'ing.sink', type: 'junction', wires: [[]] },
        { id: 'ing.in', type: 'http in', name: '', url: corePath, method: 'post', upload: false, swaggerDoc: '', wires: [['ing.out']] },
        { id: 'ing.out', type: 'http response', name: '', statusCode: '', headers: {}, wires: [] },
      ],
      z,
    ),
  ];
}

module.exports = { API_KEY, WEBHOOK_TOKEN, oursPoll, oursWebhook, handBuilt, ingestFlows };
