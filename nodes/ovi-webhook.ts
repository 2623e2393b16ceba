/**
 * ovi webhook: the node's registration. Its runtime (nodes/runtime/webhook.ts, with the HTTP client and the
 * schema) loads with the first node of this type: Node-RED loads every installed module at start,
 * and a Node-RED that has none of these nodes in its flows should not pay for them.
 */
import type * as Runtime from './runtime/webhook';
import type { Node, NodeDef, RED } from './lib/red-types';

export = function (RED: RED) {
  let start: ((this: Node, def: NodeDef) => void) | undefined;
  function OviWebhook(this: Node, def: NodeDef) {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    start ??= (require('./runtime/webhook') as typeof Runtime).setup(RED);
    start.call(this, def);
  }
  RED.nodes.registerType('ovi-webhook', OviWebhook, { credentials: { token: { type: 'text' } } });
};
