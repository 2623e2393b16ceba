/**
 * One conformance run: pick the target (Runware, or the simulator started in-process on
 * 127.0.0.1 with a random port and key), start the webhook receiver when it can be reached, run the
 * probe, judge, write the report. The CLI (cli.ts) and the tests both call runConformance.
 */
import { randomBytes } from 'crypto';
import { createSimulator, type Simulator } from '../simulator/server';
import type { Target } from './observations';
import { runProbe, REAL_PACE, SIM_PACE, type Pace } from './probe';
import { startReceiver, type Receiver } from './receiver';
import { buildReport, summary, writeReport, type ConformanceReport } from './report';
import { Transcript } from './transcript';

export const DEFAULT_ENDPOINT = 'https://api.runware.ai/v1';

export interface RunOptions {
  target: Target;
  /** The Runware API key (target 'runware'); for the simulator a random one is made unless given. */
  apiKey?: string;
  endpoint?: string;
  /** Where Runware reaches the receiver (target 'runware'); without it no webhook is asked for. */
  publicUrl?: string;
  /** Receiver interface and port (default 127.0.0.1:8788 for Runware, 127.0.0.1:0 for the simulator). */
  listenHost?: string;
  listenPort?: number;
  /** Where to write conformance-report.md/.json; none: nothing is written. */
  outDir?: string;
  /** Whole-run bound (default 20 min against Runware, 60 s against the simulator). */
  deadlineMs?: number;
  /** Overrides of the pace (tests). */
  pace?: Partial<Pace>;
  log?: (line: string) => void;
}

export interface RunResult {
  report: ConformanceReport;
  /** The summary for stdout, redacted. */
  summary: string;
  files?: { md: string; json: string };
}

export async function runConformance(opts: RunOptions): Promise<RunResult> {
  const log = opts.log ?? (() => {});
  const startedAt = new Date();
  const real = opts.target === 'runware';
  const transcript = new Transcript();
  const apiKey = opts.apiKey ?? (real ? '' : `sim-${randomBytes(12).toString('hex')}`);
  if (!apiKey) throw new Error('an API key is needed to probe Runware');
  transcript.secret(apiKey);
  const pace = { ...(real ? REAL_PACE : SIM_PACE), ...opts.pace };
  const deadlineAt = Date.now() + (opts.deadlineMs ?? (real ? 20 * 60_000 : 60_000));

  let sim: Simulator | undefined;
  let receiver: Receiver | undefined;
  try {
    let endpoint = opts.endpoint ?? DEFAULT_ENDPOINT;
    if (!real) {
      sim = await createSimulator({
        host: '127.0.0.1',
        port: 0,
        apiKeys: [apiKey],
        renderMs: 800,
        shapes: opts.target === 'simulator-alt' ? 'alt' : 'default',
      });
      endpoint = sim.url;
      log(`simulator on ${sim.url}${opts.target === 'simulator-alt' ? ' (alternative shapes)' : ''}`);
    }
    if (!real || opts.publicUrl) {
      receiver = await startReceiver({
        host: opts.listenHost ?? '127.0.0.1',
        port: opts.listenPort ?? (real ? 8788 : 0),
        publicUrl: real ? opts.publicUrl : undefined,
        transcript,
      });
      log(`receiver for webhooks and uploads at ${receiver.publicUrl}`);
    }
    const observations = await runProbe({
      target: opts.target,
      endpoint,
      apiKey,
      simControl: sim?.baseUrl,
      receiver,
      pace,
      deadlineAt,
      transcript,
      log,
    });
    const report = buildReport(observations, transcript, startedAt, !!receiver);
    const files = opts.outDir ? writeReport(report, transcript, opts.outDir) : undefined;
    // Hand back the redacted form only: no caller should hold the key by accident.
    const redacted = JSON.parse(transcript.redact(JSON.stringify(report))) as ConformanceReport;
    return { report: redacted, summary: transcript.redact(summary(report)), files };
  } finally {
    await receiver?.close();
    await sim?.close();
  }
}

/** The target for the CLI's flags, or a reason to refuse the run (a real run costs money). */
export function chooseTarget(flags: { spend: boolean; sim: boolean; simAlt: boolean }, hasKey: boolean): { target: Target } | { refuse: string } {
  if (flags.simAlt) return { target: 'simulator-alt' };
  if (flags.sim) return { target: 'simulator' };
  if (!hasKey) return flags.spend ? { refuse: '--spend needs RUNWARE_API_KEY in the environment.' } : { target: 'simulator' };
  if (!flags.spend) {
    return {
      refuse:
        'RUNWARE_API_KEY is set, but this run would cost money: it renders two short Ovi clips on your ' +
        'Runware account (and any invalid task Runware accepted). Add --spend to go ahead, or --sim to ' +
        'run against the built-in simulator instead.',
    };
  }
  return { target: 'runware' };
}
