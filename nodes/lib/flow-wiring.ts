/**
 * What a node's outputs reach in the deployed flow, from the flow configuration alone (wires, and
 * link out → link in). Used at deploy to warn about a submit whose results no ovi poll can collect.
 * Bounded: a huge or cyclic flow stops the walk, never the runtime.
 */

export interface FlowNode {
  id: string;
  type: string;
  wires?: unknown;
  links?: unknown;
  d?: boolean;
  config?: unknown;
}

const MAX_VISITS = 2000;

function ids(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  const out: string[] = [];
  for (const v of value) {
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) for (const w of v) if (typeof w === 'string') out.push(w);
  }
  return out;
}

/** Nodes of `type` reachable from `fromId`'s outputs (not counting disabled nodes). */
export function reachable(nodes: ReadonlyMap<string, FlowNode>, fromId: string, type: string): FlowNode[] {
  const start = nodes.get(fromId);
  if (!start) return [];
  const found: FlowNode[] = [];
  const seen = new Set<string>([fromId]);
  const queue = ids(start.wires);
  let visits = 0;
  while (queue.length > 0 && visits++ < MAX_VISITS) {
    const id = queue.shift() as string;
    if (seen.has(id)) continue;
    seen.add(id);
    const n = nodes.get(id);
    if (!n || n.d === true) continue;
    if (n.type === type) {
      found.push(n);
      continue;
    }
    queue.push(...ids(n.wires));
    if (n.type === 'link out' || n.type === 'link call') queue.push(...ids(n.links));
  }
  return found;
}
