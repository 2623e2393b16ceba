#!/usr/bin/env node
// npm start: a local Node-RED (from devDependencies) with this package installed, the example flows
// loaded, on the embedded Runware simulator unless RUNWARE_API_KEY is set. The userDir is .userdir/
// (gitignored); delete it to start from the examples again.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const userDir = process.env.OVI_USERDIR || path.join(root, '.userdir');
const port = Number(process.env.PORT || 1880);
const host = process.env.HOST || '127.0.0.1';

/** All examples, each on its own tab, shared config nodes once. */
function exampleFlows() {
  const dir = path.join(root, 'examples');
  const seen = new Set();
  const flows = [];
  for (const file of fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const nodes = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    const tab = {
      id: 'tab.' + file.replace(/\.json$/, ''),
      type: 'tab',
      label: file
        .replace(/^\d+-/, '')
        .replace(/\.json$/, '')
        .replace(/-/g, ' '),
    };
    flows.push(tab);
    for (const n of nodes) {
      if (seen.has(n.id)) continue;
      seen.add(n.id);
      const isConfig = !('x' in n) && !('wires' in n);
      const node = isConfig ? n : { ...n, z: tab.id };
      // The doorbell example writes under /media (Home Assistant's media folder); here: <userDir>/media.
      if (typeof node.filePath === 'string' && node.filePath.startsWith('/media/')) node.filePath = node.filePath.slice(1);
      flows.push(node);
    }
  }
  return flows;
}

async function main() {
  fs.mkdirSync(path.join(userDir, 'node_modules'), { recursive: true });
  const link = path.join(userDir, 'node_modules', 'node-red-contrib-runware-ovi');
  fs.rmSync(link, { recursive: true, force: true });
  fs.symlinkSync(root, link, 'dir');

  const env = { ...process.env };
  let simulator;
  if (!env.RUNWARE_API_KEY) {
    const { createSimulator } = require(path.join(root, 'dist', 'simulator', 'server.js'));
    const simPort = Number(env.SIM_PORT || 8787);
    try {
      simulator = await createSimulator({ port: simPort, apiKeys: ['sim-key'], renderMs: 4000 });
    } catch {
      simulator = await createSimulator({ port: 0, apiKeys: ['sim-key'], renderMs: 4000 });
    }
    env.RUNWARE_API_KEY = 'sim-key';
    env.RUNWARE_ENDPOINT = simulator.url;
    // The image-to-video and doorbell examples fetch their camera snapshot from CAMERA_URL.
    env.CAMERA_URL = env.CAMERA_URL || simulator.baseUrl + '/samples/snapshot.jpg';
    console.log('Runware simulator: ' + simulator.url + ' (no RUNWARE_API_KEY set; results are sample clips)');
  } else {
    console.log('Using Runware at ' + (env.RUNWARE_ENDPOINT || 'https://api.runware.ai/v1') + ' with RUNWARE_API_KEY');
  }
  env.OVI_PUBLIC_URL = env.OVI_PUBLIC_URL || 'http://' + host + ':' + port;

  const flowFile = path.join(userDir, 'flows.json');
  if (!fs.existsSync(flowFile)) fs.writeFileSync(flowFile, JSON.stringify(exampleFlows(), null, 2));
  const settingsFile = path.join(userDir, 'settings.js');
  fs.writeFileSync(
    settingsFile,
    '// written by scripts/start.js\nmodule.exports = ' +
      JSON.stringify(
        {
          uiPort: port,
          uiHost: host,
          flowFile: 'flows.json',
          credentialSecret: 'ovi-local-dev',
          httpNodeRoot: '/',
          editorTheme: { tours: false },
          telemetry: { enabled: false },
        },
        null,
        2,
      ) +
      ';\n',
  );

  const red = spawn(process.execPath, [require.resolve('node-red/red.js'), '--userDir', userDir, '--settings', settingsFile], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  red.stdout.on('data', (chunk) => {
    process.stdout.write(chunk);
    if (/Server now running/.test(String(chunk))) {
      console.log('\n  Node-RED editor: http://' + host + ':' + port + '/  (open a tab, click an inject; results appear in the debug sidebar)\n');
    }
  });
  const stop = () => {
    red.kill('SIGINT');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  red.on('exit', (code) => {
    if (simulator) simulator.close().then(() => process.exit(code ?? 0));
    else process.exit(code ?? 0);
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
