/**
 * The part of Node-RED's runtime API these nodes use, typed here so no `any` crosses a module
 * boundary (and so we do not depend on a third-party @types package lagging behind Node-RED).
 */
import type { IncomingMessage, ServerResponse } from 'http';

export type NodeMessage = { _msgid?: string; payload?: unknown; topic?: string; [key: string]: unknown };

export type SendFn = (msg: NodeMessage | Array<NodeMessage | null> | null) => void;
export type DoneFn = (err?: Error) => void;

export interface StatusSpec {
  fill?: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape?: 'ring' | 'dot';
  text?: string;
}

export interface NodeDef {
  id: string;
  type: string;
  name?: string;
  z?: string;
  [key: string]: unknown;
}

export interface Node {
  id: string;
  type: string;
  name?: string;
  z?: string;
  credentials?: Record<string, string | undefined>;
  on(event: 'input', fn: (msg: NodeMessage, send: SendFn, done: DoneFn) => void): void;
  on(event: 'close', fn: (removed: boolean, done: () => void) => void): void;
  send(msg: NodeMessage | Array<NodeMessage | null> | null): void;
  /** A msg into the node's input, as an inject button does (Node-RED's Node#receive). */
  receive?(msg: NodeMessage): void;
  status(status: StatusSpec | Record<string, never>): void;
  log(msg: string): void;
  warn(msg: string): void;
  error(err: string | Error, msg?: NodeMessage): void;
  debug(msg: string): void;
  context(): {
    get(key: string, store: string, cb: (err: Error | null, value: unknown) => void): void;
    set(key: string, value: unknown, store: string, cb: (err?: Error | null) => void): void;
  };
}

/** Express-like request/response as Node-RED's HTTP apps hand them to a route. */
export interface HttpRequest extends IncomingMessage {
  body?: unknown;
  query: Record<string, unknown>;
  params?: Record<string, string>;
}
export interface HttpResponse extends ServerResponse {
  status(code: number): HttpResponse;
  json(body: unknown): HttpResponse;
  send(body?: unknown): HttpResponse;
  set(field: string, value: string): HttpResponse;
  /** Express's res.sendFile (ranges, ETag, Last-Modified); the path must be absolute. */
  sendFile(file: string, options: { dotfiles?: 'allow' | 'deny' | 'ignore' }, done: (err?: Error) => void): void;
}
export type Handler = (req: HttpRequest, res: HttpResponse, next: (err?: unknown) => void) => void;

export interface RouterLayer {
  name?: string;
  route?: { path?: string; methods?: Record<string, boolean>; stack?: Array<{ handle?: unknown }> };
}

export interface HttpApp {
  post(path: string, ...handlers: Handler[]): void;
  use?(...handlers: Handler[]): void;
  get(path: string, ...handlers: Handler[]): void;
  _router?: { stack: RouterLayer[] };
  router?: { stack: RouterLayer[] };
}

export interface NodeConstructor {
  (this: Node, config: NodeDef): void;
}

export interface RED {
  nodes: {
    createNode(node: Node, config: NodeDef): void;
    registerType(
      type: string,
      ctor: NodeConstructor,
      opts?: { credentials?: Record<string, { type: 'text' | 'password' }>; settings?: Record<string, unknown> },
    ): void;
    getNode(id: string): Node | null;
    getCredentials(id: string): Record<string, string | undefined> | undefined;
    /** Every node of the deployed flows, as configured (wires, properties). */
    eachNode?(cb: (n: NodeDef) => void): void;
  };
  events?: {
    on(event: string, fn: (...args: unknown[]) => void): void;
    removeListener(event: string, fn: (...args: unknown[]) => void): void;
  };
  comms?: { publish(topic: string, data: unknown, retain?: boolean): void };
  util: {
    cloneMessage<T>(msg: T): T;
    generateId(): string;
    evaluateNodeProperty(value: unknown, type: string, node: Node, msg: NodeMessage, callback: (err: Error | null, result: unknown) => void): void;
  };
  settings: { httpNodeRoot?: string | false; userDir?: string; [key: string]: unknown };
  httpNode?: HttpApp;
  httpAdmin?: HttpApp;
  auth?: { needsPermission(permission: string): Handler };
  log: { info(m: string): void; warn(m: string): void; error(m: string): void; debug(m: string): void };
  _(key: string, subs?: Record<string, unknown>): string;
}
