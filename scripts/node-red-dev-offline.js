'use strict';
// Preload for the Flow Library scorecard tool without the Internet:
//   node -r ./scripts/node-red-dev-offline.js node_modules/node-red-dev/bin/run validate -p <dir>
//
// node-red-dev asks two hosts with its own axios:
// - https://catalogue.nodered.org/catalogue.json (checks P08 "similar names" and N01 "unique node
//   types"): unreachable here. This preload answers it with the file named by NODE_RED_CATALOGUE (a
//   copy of that catalogue, if you have one), else with an empty catalogue, {"modules": []}, so the
//   two checks run but prove nothing; scripts/validate.js says so in its report.
// - https://registry.npmjs.org/node-red (P06 supported Node-RED versions, P07 Node.js engines): sent to
//   the registry npm is configured with (OVI_NPM_REGISTRY, else npm_config_registry), which is
//   reachable, so these checks are real.
// Its dependencies npm-remote-ls (D02) and npm-check (D03) already read npm's registry setting.
// Every request answered by a stand-in is logged to stderr as "[offline] ...".
const Module = require('module');
const fs = require('fs');

const CATALOGUE_HOST = 'catalogue.nodered.org';
const PUBLIC_REGISTRY = 'https://registry.npmjs.org/';
const registry = (process.env.OVI_NPM_REGISTRY || process.env.npm_config_registry || PUBLIC_REGISTRY).replace(/\/*$/, '/');

function catalogue() {
  const file = process.env.NODE_RED_CATALOGUE;
  if (file) return { data: JSON.parse(fs.readFileSync(file, 'utf8')), from: file };
  return { data: { name: 'Node-RED Community catalogue (offline stand-in)', updated_at: new Date(0).toISOString(), modules: [] }, from: 'an empty stand-in' };
}

function patch(axios) {
  axios.interceptors.request.use((config) => {
    const url = String(config.url || '');
    let host = '';
    try {
      host = new URL(url).hostname;
    } catch {
      return config;
    }
    if (host === CATALOGUE_HOST) {
      const c = catalogue();
      process.stderr.write('[offline] ' + url + ' answered by ' + c.from + ' (' + (c.data.modules || []).length + ' modules)\n');
      config.adapter = () =>
        Promise.resolve({ data: c.data, status: 200, statusText: 'OK', headers: { 'content-type': 'application/json' }, config, request: {} });
    } else if (url.startsWith(PUBLIC_REGISTRY) && registry !== PUBLIC_REGISTRY) {
      config.url = registry + url.slice(PUBLIC_REGISTRY.length);
    }
    return config;
  });
}

const patched = new WeakSet();
const load = Module._load;
Module._load = function (request) {
  const exported = load.apply(this, arguments);
  if (request === 'axios' && exported && exported.interceptors && !patched.has(exported)) {
    patched.add(exported);
    patch(exported);
  }
  return exported;
};
