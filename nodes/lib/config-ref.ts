/** How the other nodes find and read an ovi-config node. */
import { Account } from './account';
import type { Node, RED } from './red-types';

export const DEFAULT_ENDPOINT = 'https://api.runware.ai/v1';

export interface OviConfigNode extends Node {
  account: Account;
  endpoint: string;
  publicUrl: string;
}

export function isOviConfig(node: Node | null | undefined): node is OviConfigNode {
  return !!node && node.type === 'ovi-config' && (node as Partial<OviConfigNode>).account instanceof Account;
}

export function configNode(RED: RED, id: unknown): OviConfigNode | undefined {
  if (typeof id !== 'string' || !id) return undefined;
  const n = RED.nodes.getNode(id);
  return isOviConfig(n) ? n : undefined;
}

/** `${NAME}` in a credential is read from the environment, as Node-RED does for node properties. */
export function resolveEnv(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const m = /^\$\{(\w+)\}$/.exec(value.trim());
  return m ? process.env[m[1]] || undefined : value;
}

export function apiKeyFor(credential: string | undefined): string | undefined {
  return resolveEnv(credential) || process.env.RUNWARE_API_KEY || undefined;
}

export function numberSetting(value: unknown, fallback: number, min: number): number {
  if (value === '' || value === null || value === undefined) return fallback;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) && n >= min ? n : fallback;
}
