#!/usr/bin/env node
/**
 * ovi-conformance: checks the assumptions this package makes about Runware's API. With
 * RUNWARE_API_KEY and --spend it runs the smallest real Ovi tasks (they cost money); without a key
 * it runs against the built-in simulator, which is how the probe itself is tested.
 */
import * as path from 'path';
import { PROBE_STEPS } from './probe';
import { chooseTarget, DEFAULT_ENDPOINT, runConformance, type RunOptions } from './run';

const USAGE = `Usage: ovi-conformance [options]

Checks, against the real API, what node-red-contrib-runware-ovi assumes about Runware (see
conformance/README.md), and writes a report to attach to an issue.

  --spend               allow real Ovi tasks: two short clips (text-only and image-to-video,
                        numberResults 1, ${PROBE_STEPS} steps), plus any invalid task Runware would accept
  --endpoint URL        Runware API (default ${DEFAULT_ENDPOINT})
  --public-url URL      where Runware can reach this machine (a tunnel): enables the webhook and
                        upload checks; the receiver listens on --listen
  --listen [HOST:]PORT  receiver address (default 127.0.0.1:8788)
  --out DIR             report folder (default ./conformance-report)
  --deadline SECONDS    bound of the whole run (default 1200 against Runware, 60 against the simulator)
  --sim                 run against the built-in simulator even if RUNWARE_API_KEY is set
  --sim-alt             run against the simulator in its alternative-shapes mode
  --help                show this help

The API key comes from the RUNWARE_API_KEY environment variable only (never a flag: it would land
in the shell history). Without it, the probe runs against the simulator: nothing is spent.
`;

class UsageError extends Error {}

interface Parsed {
  help: boolean;
  spend: boolean;
  sim: boolean;
  simAlt: boolean;
  endpoint?: string;
  publicUrl?: string;
  listenHost?: string;
  listenPort?: number;
  out: string;
  deadlineMs?: number;
}

function parseArgs(argv: string[]): Parsed {
  const p: Parsed = { help: false, spend: false, sim: false, simAlt: false, out: 'conformance-report' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const [flag, inline] = eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
      return v;
    };
    const url = (): string => {
      const v = value();
      if (!/^https?:\/\/[^/]/i.test(v)) throw new UsageError(`${flag} must be an http(s) URL`);
      return v.replace(/\/+$/, '');
    };
    switch (flag) {
      case '--help':
      case '-h':
        p.help = true;
        break;
      case '--spend':
        p.spend = true;
        break;
      case '--sim':
        p.sim = true;
        break;
      case '--sim-alt':
        p.simAlt = true;
        break;
      case '--endpoint':
        p.endpoint = url();
        break;
      case '--public-url':
        p.publicUrl = url();
        break;
      case '--listen': {
        const m = /^(?:(.+):)?(\d{1,5})$/.exec(value());
        if (!m || Number(m[2]) > 65535) throw new UsageError('--listen must be PORT or HOST:PORT');
        p.listenHost = m[1];
        p.listenPort = Number(m[2]);
        break;
      }
      case '--out':
        p.out = value();
        break;
      case '--deadline': {
        const n = Number(value());
        if (!Number.isFinite(n) || n < 10 || n > 24 * 3600) throw new UsageError('--deadline must be 10..86400 seconds');
        p.deadlineMs = n * 1000;
        break;
      }
      default:
        throw new UsageError(`unknown option ${arg}`);
    }
  }
  return p;
}

async function main(): Promise<number> {
  let p: Parsed;
  try {
    p = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`ovi-conformance: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (p.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const key = process.env.RUNWARE_API_KEY?.trim() || undefined;
  const choice = chooseTarget(p, !!key);
  if ('refuse' in choice) {
    process.stderr.write(`ovi-conformance: ${choice.refuse}\n`);
    return 2;
  }
  const opts: RunOptions = {
    target: choice.target,
    apiKey: choice.target === 'runware' ? key : undefined,
    endpoint: p.endpoint,
    publicUrl: p.publicUrl,
    listenHost: p.listenHost,
    listenPort: p.listenPort,
    outDir: path.resolve(p.out),
    deadlineMs: p.deadlineMs,
    log: (line) => process.stderr.write(`  ${line}\n`),
  };
  if (choice.target === 'runware' && !p.publicUrl) process.stderr.write('  no --public-url: the webhook and upload checks are skipped\n');
  const result = await runConformance(opts);
  process.stdout.write(`${result.summary}\nReport: ${result.files?.md}\n        ${result.files?.json}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`ovi-conformance: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
