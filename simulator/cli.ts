#!/usr/bin/env node
/**
 * ovi-simulator: run the Runware simulator from the command line, e.g. to build flows offline.
 * Point the ovi-config node's endpoint at the printed URL and use the printed API key.
 */
import { createSimulator, type SimulatorInit } from './server';

const USAGE = `Usage: ovi-simulator [options]

Plays Runware's REST API for the Ovi video model (runware:190@1) on this machine.

  --port N              port to listen on (default 8787; 0 picks a free one)
  --host HOST           interface to bind (default 127.0.0.1; the /__sim control routes have no auth)
  --key KEY             accepted API key (default sim-key; repeat or comma-separate for several)
  --render-ms MS        time until result 0 of a job is done (default 4000; result i takes 1+0.25i times it)
  --public-url URL      base of the videoURLs handed out (default http://HOST:PORT)
  --fault-429 P         probability of a 429 rateLimitExceeded per API request (0..1)
  --fault-5xx P         probability of a 500/502/503 per API request
  --fault-reset P       probability of processing a request, then dropping the connection unanswered
  --fault-malformed P   probability of processing a request, then answering truncated JSON
  --fault-slow P        probability of processing a request, then answering after --slow-ms
  --fault-fail P        probability that an accepted job ends in inferenceError
  --latency-ms MS       extra delay before every API request is handled (default 0)
  --slow-ms MS          delay of a slow response (default 30000)
  --webhook-wrap MODE   'data' (default) POSTs {"data":[item]}, 'bare' POSTs the result item itself
  --failure-shape SHAPE 'errors' (default): a failed generation is an errors[] entry in the 200;
                        'item': a data[] item {status:"error", error:{code, message}}
  --progress            processing placeholders carry progress (0..99); off by default
  --max-batch N         most getResponse tasks per request (default 0: no limit)
  --batch-over-limit M  beyond --max-batch: 'refuse' (default, 400 unsupportedBatch) or 'partial'
                        (answer the first N only)
  --reject-batched-poll refuse requests with more than one getResponse task (= --max-batch 1, refuse)
  --duplicate-answer S:CODE  status and code refusing a reused taskUUID (default 400:duplicateTaskUUID)
  --require-inputs      refuse a task without inputs.image (400 missingInputs on 'inputs')
  --alt-shapes          switch every unconfirmed choice to its alternative at once: bare webhooks,
                        failure items, progress on, batched polls refused, duplicates as
                        409:conflictTaskAlreadyExists, inputs required (the flags above still win)
  --no-webhooks         never POST to webhookURL (to exercise the polling fallback)
  --seed N              seed of the fault PRNG, for reproducible runs (default 1)
  --quiet               do not log requests and deliveries
  --help                show this help

Prompt markers: "[sim:fail]" fails every generation of a task (inferenceError), "[sim:safety]"
with contentPolicyViolation; "[sim:fail:I]" / "[sim:safety:I]" fail generation I (0-based) only.
Control routes: GET /__sim/stats, GET /__sim/requests, GET|POST /__sim/config (JSON),
POST /__sim/reset, POST /__sim/faults, POST /__sim/answers, GET /health.
`;

class UsageError extends Error {}

function parseArgs(argv: string[]): { init: SimulatorInit; help: boolean; quiet: boolean } {
  const init: SimulatorInit = { port: 8787, renderMs: 4000 };
  const faults: NonNullable<SimulatorInit['faults']> = {};
  const keys: string[] = [];
  let help = false;
  let quiet = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    const choice = <T extends string>(...allowed: T[]): T => {
      const v = value();
      if (!allowed.includes(v as T)) throw new UsageError(`${flag} must be ${allowed.join(' or ')}`);
      return v as T;
    };
    const number = (min: number, max: number): number => {
      const raw = value();
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new UsageError(`${flag} must be a number between ${min} and ${max}`);
      return n;
    };
    switch (flag) {
      case '--help':
      case '-h':
        help = true;
        break;
      case '--port':
        init.port = number(0, 65535);
        break;
      case '--host':
        init.host = value();
        break;
      case '--key':
        keys.push(
          ...value()
            .split(',')
            .map((k) => k.trim())
            .filter(Boolean),
        );
        break;
      case '--render-ms':
        init.renderMs = number(0, 86_400_000);
        break;
      case '--public-url':
        init.publicUrl = value();
        break;
      case '--fault-429':
        faults.rateLimit = number(0, 1);
        break;
      case '--fault-5xx':
        faults.serverError = number(0, 1);
        break;
      case '--fault-reset':
        faults.reset = number(0, 1);
        break;
      case '--fault-malformed':
        faults.malformed = number(0, 1);
        break;
      case '--fault-slow':
        faults.slow = number(0, 1);
        break;
      case '--fault-fail':
        faults.failedGeneration = number(0, 1);
        break;
      case '--latency-ms':
        faults.latencyMs = number(0, 3_600_000);
        break;
      case '--slow-ms':
        init.slowMs = number(0, 3_600_000);
        break;
      case '--webhook-wrap':
        init.webhookWrap = choice('bare', 'data');
        break;
      case '--failure-shape':
        init.failureShape = choice('errors', 'item');
        break;
      case '--progress':
        init.progress = true;
        break;
      case '--max-batch':
        init.maxBatch = number(0, 10_000);
        if (!Number.isInteger(init.maxBatch)) throw new UsageError('--max-batch must be an integer');
        break;
      case '--batch-over-limit':
        init.batchOverLimit = choice('refuse', 'partial');
        break;
      case '--duplicate-answer': {
        const m = /^([45]\d\d):([A-Za-z][A-Za-z0-9]*)$/.exec(value());
        if (!m) throw new UsageError('--duplicate-answer must look like 409:conflictTaskAlreadyExists');
        init.duplicateAnswer = { status: Number(m[1]), code: m[2] };
        break;
      }
      case '--require-inputs':
        init.requireInputs = true;
        break;
      case '--alt-shapes':
        init.shapes = 'alt';
        break;
      case '--reject-batched-poll':
        init.rejectBatchedPoll = true;
        break;
      case '--no-webhooks':
        init.webhooks = false;
        break;
      case '--seed':
        init.randomSeed = number(-(2 ** 31), 2 ** 32);
        break;
      case '--quiet':
        quiet = true;
        break;
      default:
        throw new UsageError(`unknown option ${arg}`);
    }
  }
  if (keys.length > 0) init.apiKeys = keys;
  init.faults = faults;
  return { init, help, quiet };
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`ovi-simulator: ${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (parsed.help) {
    process.stdout.write(USAGE);
    return;
  }
  const { init, quiet } = parsed;
  if (!quiet) init.log = (line) => console.log(`${new Date().toISOString()} ${line}`);
  const sim = await createSimulator(init);
  const keys = sim.options.apiKeys.join(', ');
  console.log(`Runware simulator listening on ${sim.url} (API key: ${keys})`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    if (!quiet) console.log(`${signal}: closing the simulator`);
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`ovi-simulator: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
