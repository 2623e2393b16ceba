/**
 * Every property of every node, with its one default. Flows are not all drawn by our editor: hand-
 * written JSON, the admin API, flow generators and older versions of these nodes leave properties
 * out. The runtime applies these defaults to what is absent or empty, and the editor's validators
 * (which receive the same file compiled for the browser, see scripts/build.js) read absent as default,
 * so a node with only id, type, z, wires and config works and shows valid. Keep it free of imports.
 */

export type NodeType = 'ovi-config' | 'ovi-submit' | 'ovi-poll' | 'ovi-webhook';
type Defaults = Readonly<Record<string, string | number | boolean | Record<string, never>>>;

const OUTPUT: Defaults = {
  output: 'url',
  filePath: 'ovi/{{taskUUID}}-{{index}}.{{ext}}',
  maxBytes: 50 * 1024 * 1024,
  downloadTimeout: 120,
  retentionDays: 0,
  acceptForeign: false,
};

export const NODE_DEFAULTS: Readonly<Record<NodeType, Defaults>> = {
  'ovi-config': {
    name: '',
    endpoint: 'https://api.runware.ai/v1',
    publicUrl: '',
    timeout: 60,
    maxConcurrent: 10,
    retries: 4,
    budget: 0,
    costEstimate: 0,
    requireCost: false,
    store: '',
  },
  'ovi-submit': {
    name: '',
    positivePrompt: 'payload',
    positivePromptType: 'msg',
    image: 'image',
    imageType: 'msg',
    delivery: 'poll',
    webhookNode: '',
    webhookURL: '',
    fallbackAfter: 0,
    timeout: 1200,
  },
  // First check after 1 s, longest interval 10 s: Runware's own SDK cadence (docs/PERFORMANCE.md).
  'ovi-poll': { name: '', initialDelay: 1, maxInterval: 10, timeout: 1200, ...OUTPUT },
  'ovi-webhook': { name: '', path: '/ovi/results', maxBody: 1024 * 1024, ...OUTPUT },
};

/** Absent, null or blank: the property takes its default. */
export function isUnset(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
}

/** A node's property, or its default when unset. */
export function setting(type: NodeType, def: Readonly<Record<string, unknown>>, key: string): unknown {
  const v = def[key];
  return isUnset(v) ? NODE_DEFAULTS[type][key] : v;
}

/**
 * What a prompt or image property asks to evaluate: a typed-input {type, value}, or undefined for
 * nothing. A type saved with the value wins. Unset value: the prompt reads msg.payload; the image
 * setting adds nothing (msg.image is always read anyway). A value saved without a type (hand-written
 * flows, older versions) is literal text, except the default property names themselves; an image
 * value without a type that is no image string names a msg property.
 */
export function typedInput(
  kind: 'prompt' | 'image',
  value: unknown,
  type: unknown,
  looksLikeImage?: (v: string) => boolean,
): { type: string; value: string } | undefined {
  if (isUnset(value)) return kind === 'prompt' ? { type: 'msg', value: 'payload' } : undefined;
  const text = String(value).trim();
  if (typeof type === 'string' && type !== '') return { type, value: type === 'str' ? String(value) : text };
  if (kind === 'prompt') return text === 'payload' ? { type: 'msg', value: text } : { type: 'str', value: String(value) };
  if (text === 'image') return { type: 'msg', value: text };
  return looksLikeImage && looksLikeImage(text) ? { type: 'str', value: text } : { type: 'msg', value: text };
}
