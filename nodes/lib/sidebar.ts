/**
 * The editor's Ovi sidebar, Node-RED side: a JobFeed per deployed account (started and stopped by
 * the config node), the registry of result files the sidebar may play, and the admin routes:
 *   GET  /ovi/jobs        every account's current view (an editor that just opened)   ovi-config.read
 *   GET  /ovi/media/:id   a result file an output node of this package wrote          ovi-config.read
 *   POST /ovi/collect     {poll, taskUUID[, config, numberResults]}: hand a task to an ovi poll  ovi-config.write
 */
import * as fs from 'fs';
import * as path from 'path';
import { OviConfigNode, configNode } from './config-ref';
import { isUuidV4 } from './field-check';
import { FeedModel, JobFeed } from './job-feed';
import { MediaRegistry } from './media-registry';
import type { HttpRequest, HttpResponse, NodeDef, RED } from './red-types';

const feeds = new Map<string, JobFeed>();
/**
 * Models of config nodes being redeployed (or stopped with the flows): the new node's feed continues
 * them. A few at most: a node deleted while the flows were stopped never comes back for its model.
 */
const carried = new Map<string, FeedModel>();
const MAX_CARRIED = 16;
/** Bounded by the feeds' result caps too: a result that leaves a feed forgets its file. */
export const media = new MediaRegistry(1000);

const VIDEO_TYPES: Record<string, string> = { '.mp4': 'video/mp4', '.webm': 'video/webm', '.mov': 'video/quicktime' };
/** How long after a collect the feed looks for the record the ovi poll made (its input handler may run later). */
const COLLECT_SYNC_MS = 100;

export function startFeed(RED: RED, node: OviConfigNode, scrub: (text: string) => string): void {
  feeds.get(node.id)?.stop();
  const model = carried.get(node.id);
  carried.delete(node.id);
  const feed = new JobFeed(
    {
      id: node.id,
      label: labelOf(node),
      source: node.account,
      publish: (topic, data) => RED.comms?.publish(topic, data, false),
      media,
      scrub,
    },
    model,
  );
  feeds.set(node.id, feed.start());
}

/** On close: a removed node's feed is forgotten (and the editors told); a redeployed one's model carries over. */
export function stopFeed(id: string, removed: boolean): void {
  const feed = feeds.get(id);
  if (!feed) return;
  feeds.delete(id);
  if (removed) return feed.remove();
  carried.set(id, feed.stop());
  while (carried.size > MAX_CARRIED) {
    const [oldest, model] = carried.entries().next().value as [string, FeedModel];
    for (const r of model.results.values()) media.forget(r.media);
    carried.delete(oldest);
  }
}

/** The running feed of a config node (tests look at its model). */
export function feedOf(id: string): JobFeed | undefined {
  return feeds.get(id);
}

function labelOf(node: OviConfigNode): string {
  if (node.name) return node.name;
  try {
    return 'Runware ' + new URL(node.endpoint).hostname; // the host only: a URL may carry user:password
  } catch {
    return 'Runware';
  }
}

/** GET /ovi/jobs */
export function jobsRoute(_req: HttpRequest, res: HttpResponse): void {
  res.set('Cache-Control', 'no-store');
  res.json({ now: Date.now(), accounts: [...feeds.values()].map((f) => f.snapshot()) });
}

/**
 * GET /ovi/media/:id: only a file registered by a `file` job event, named by its random id. The
 * type is the video's (by extension), anything else is a download; nosniff and a sandbox CSP keep
 * a file from ever running as a page of the editor's origin.
 */
export function mediaRoute(req: HttpRequest, res: HttpResponse): void {
  const file = media.get(req.params?.id);
  if (!file) return void res.status(404).json({ error: 'unknown media id' });
  fs.lstat(file, (err, st) => {
    // A symlink put in its place since is not followed.
    if (err || !st.isFile()) return void res.status(404).json({ error: 'the file is gone' });
    const type = VIDEO_TYPES[path.extname(file).toLowerCase()];
    res.set('X-Content-Type-Options', 'nosniff');
    res.set('Content-Security-Policy', 'sandbox');
    res.set('Cache-Control', 'private, max-age=300');
    res.set('Content-Type', type ?? 'application/octet-stream');
    if (!type) res.set('Content-Disposition', 'attachment');
    // dotfiles: the path is ours, not the client's, and a userDir is often ~/.node-red.
    res.sendFile(file, { dotfiles: 'allow' }, (e) => {
      if (e && !res.headersSent) res.status(404).json({ error: 'the file is gone' });
    });
  });
}

/**
 * POST /ovi/collect: a task this account no longer tracks (its wait timed out, or it ran elsewhere)
 * goes to an ovi poll node the user picked, as a msg {taskUUID} into its input: the node claims it,
 * polls it with its own deadline and sends the results on into the flow; the sidebar shows the job
 * and its outcome like any other. JSON only (a form post can come from any web page).
 */
export function collectRoute(RED: RED, req: HttpRequest, res: HttpResponse): void {
  if (!/^application\/json\b/i.test(String(req.headers['content-type'] ?? ''))) return void res.status(415).json({ error: 'JSON only' });
  const b = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
  const taskUUID = b.taskUUID;
  if (!isUuidV4(taskUUID)) return void res.status(400).json({ error: 'taskUUID must be the UUID of a submitted task' });
  const pollId = typeof b.poll === 'string' ? b.poll : '';
  const poll = pollId ? RED.nodes.getNode(pollId) : null;
  if (!poll || poll.type !== 'ovi-poll' || typeof poll.receive !== 'function')
    return void res.status(404).json({ error: 'no deployed ovi poll node ' + pollId });
  const config = configNode(RED, defOf(RED, pollId)?.config);
  if (!config) return void res.status(409).json({ error: 'the ovi poll node has no deployed ovi-config' });
  if (typeof b.config === 'string' && b.config && b.config !== config.id)
    return void res.status(409).json({ error: 'the ovi poll node belongs to another account' });
  const uuid = taskUUID as string;
  const rec = config.account.hub.get(uuid);
  if (rec && !rec.done) return void res.status(409).json({ error: 'task ' + uuid + ' is in flight: its results are on their way' });
  const n = b.numberResults;
  const count = typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 4 ? n : undefined;
  poll.receive({ taskUUID: uuid, ...(count ? { ovi: { task: { numberResults: count } } } : {}) });
  setTimeout(() => feeds.get(config.id)?.sync(), COLLECT_SYNC_MS).unref();
  res.json({ ok: true, taskUUID: uuid, poll: pollId, config: config.id });
}

/** A deployed node's configuration (the runtime node does not keep its config node's id). */
function defOf(RED: RED, id: string): NodeDef | undefined {
  let found: NodeDef | undefined;
  RED.nodes.eachNode?.((n) => {
    if (n.id === id) found = n;
  });
  return found;
}
