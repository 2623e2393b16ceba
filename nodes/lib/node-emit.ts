/**
 * Handing msgs and errors to Node-RED from async callbacks. Node-RED clones msgs (recursively) and
 * routes errors to Catch nodes synchronously: a throw there, inside a promise callback, would be an
 * unhandled rejection, which ends the process. Nothing thrown here may escape.
 */
import { OviError, asOviError, shortText, stackOf } from './errors';
import type { Node, NodeMessage } from './red-types';

export function safely(node: Node, what: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    try {
      node.warn('ovi: could not ' + what + ': ' + shortText(e instanceof Error ? e.message : String(e), 300));
    } catch {
      // the log itself failed: nothing more can be done without risking the process
    }
  }
}

/** An error through Catch nodes (or the log), never throwing. */
export function reportError(node: Node, err: OviError, msg: NodeMessage): void {
  safely(node, 'report an error', () => node.error(err, msg));
}

/**
 * The error to hand to done()/node.error for anything caught in a node: ours as is; anything else is
 * a bug (code `internal`) whose stack goes to the log, not to the msg.
 */
export function toNodeError(node: Node, e: unknown, where: string): OviError {
  const err = asOviError(e, where);
  if (err.code === 'internal') safely(node, 'log', () => node.log('ovi: internal error in ' + where + ': ' + stackOf(e)));
  return err;
}

/** Status under a node for an error: the code, and the message cut at a word. */
export function errorStatus(err: OviError): { fill: 'red'; shape: 'ring'; text: string } {
  return { fill: 'red', shape: 'ring', text: shortText(err.code + ': ' + err.message, 48) };
}
