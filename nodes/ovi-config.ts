/**
 * ovi-config: one Runware account, registered here. Its runtime (nodes/runtime/config.ts: the
 * Account with its HTTP client, job store and poll scheduler) loads with the first config node, or
 * the first use of the cost or test-connection route (the Ovi sidebar's routes answer "nothing
 * deployed" until then): Node-RED loads every installed module at start, and a Node-RED whose flows
 * do not use these nodes should not pay for them.
 */
import type * as Runtime from './runtime/config';
import type { HttpRequest, HttpResponse, Node, NodeDef, RED } from './lib/red-types';

export = function (RED: RED) {
  let loaded: typeof Runtime | undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const runtime = () => (loaded ??= require('./runtime/config') as typeof Runtime);
  function OviConfig(this: Node, config: NodeDef) {
    RED.nodes.createNode(this, config);
    runtime().startConfig(RED, this, config);
  }
  RED.nodes.registerType('ovi-config', OviConfig, {
    credentials: { apiKey: { type: 'password' } },
  });
  if (RED.httpAdmin && RED.auth) {
    RED.httpAdmin.get('/ovi/cost/:id', RED.auth.needsPermission('ovi-config.read'), (req: HttpRequest, res: HttpResponse) =>
      runtime().costRoute(RED, req, res),
    );
    RED.httpAdmin.post('/ovi/test-connection', RED.auth.needsPermission('ovi-config.write'), (req: HttpRequest, res: HttpResponse) =>
      runtime().testConnectionRoute(RED, req, res),
    );
    // The Ovi sidebar asks for its snapshot in every editor: without a config node there is nothing
    // to show, and the runtime stays unloaded.
    RED.httpAdmin.get('/ovi/jobs', RED.auth.needsPermission('ovi-config.read'), (req: HttpRequest, res: HttpResponse) =>
      loaded ? loaded.jobsRoute(req, res) : void res.json({ now: Date.now(), accounts: [] }),
    );
    RED.httpAdmin.get('/ovi/media/:id', RED.auth.needsPermission('ovi-config.read'), (req: HttpRequest, res: HttpResponse) =>
      loaded ? loaded.mediaRoute(req, res) : void res.status(404).json({ error: 'unknown media id' }),
    );
    RED.httpAdmin.post('/ovi/collect', RED.auth.needsPermission('ovi-config.write'), (req: HttpRequest, res: HttpResponse) =>
      loaded ? loaded.collectRoute(RED, req, res) : void res.status(404).json({ error: 'no ovi-config node is deployed' }),
    );
  }
};
