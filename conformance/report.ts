/**
 * The report: one verdict per assumption, the total cost, and the redacted transcript, as
 * conformance-report.md (to attach to an issue) and conformance-report.json (to diff or re-judge).
 */
import * as fs from 'fs';
import * as path from 'path';
import { CHECKS, judgeAll, type VerdictKind } from './assumptions';
import { isRecord, stateOf, statusOf, webhookItems, type Observations, type Target } from './observations';
import { OVI_MODEL, PROBE_STEPS } from './probe';
import type { Transcript, TranscriptEntry } from './transcript';

export interface Verdict {
  id: string;
  section: string;
  statement: string;
  checks: string[];
  verdict: VerdictKind;
  seen?: string;
}

export interface ConformanceReport {
  tool: 'ovi-conformance';
  version: string;
  target: Target;
  endpoint: string;
  startedAt: string;
  finishedAt: string;
  settings: { model: string; steps: number; numberResults: number; includeCost: boolean; webhooks: boolean };
  /** USD, summed over distinct results; null when no result reported a cost. */
  totalCost: number | null;
  results: number;
  counts: Record<VerdictKind, number>;
  verdicts: Verdict[];
  checks: Record<string, string>;
  transcript: TranscriptEntry[];
}

function packageVersion(): string {
  for (const up of ['..', path.join('..', '..')]) {
    try {
      const pkg: unknown = JSON.parse(fs.readFileSync(path.join(__dirname, up, 'package.json'), 'utf8'));
      if (isRecord(pkg) && pkg.name === 'node-red-contrib-runware-ovi' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // try the next level
    }
  }
  return 'unknown';
}

/** Distinct results and their summed cost, from polls and webhooks alike. */
export function costOf(o: Observations): { total: number | null; results: number } {
  const costs = new Map<string, number | undefined>();
  const note = (item: Record<string, unknown>) => {
    if (statusOf(item) !== 'success' || typeof item.videoUUID !== 'string') return;
    const cost = typeof item.cost === 'number' ? item.cost : undefined;
    if (!costs.has(item.videoUUID) || cost !== undefined) costs.set(item.videoUUID, cost);
  };
  for (const t of o.polls) for (const a of [...t.answers, ...(t.later ? [t.later] : [])]) stateOf(a.body, t.taskUUID).successes.forEach(note);
  for (const h of o.hits) for (const { item } of webhookItems(h.json)) note(item);
  const known = [...costs.values()].filter((c): c is number => c !== undefined);
  return { total: known.length ? Math.round(known.reduce((a, b) => a + b, 0) * 1e6) / 1e6 : null, results: costs.size };
}

export function buildReport(o: Observations, transcript: Transcript, startedAt: Date, webhooks: boolean): ConformanceReport {
  const verdicts = judgeAll(o).map(({ id, section, statement, checks, verdict, seen }) => ({ id, section, statement, checks, verdict, seen }));
  const counts: Record<VerdictKind, number> = { holds: 0, differs: 0, 'not observed': 0 };
  for (const v of verdicts) counts[v.verdict]++;
  const cost = costOf(o);
  return {
    tool: 'ovi-conformance',
    version: packageVersion(),
    target: o.target,
    endpoint: o.endpoint,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    settings: { model: OVI_MODEL, steps: PROBE_STEPS, numberResults: 1, includeCost: true, webhooks },
    totalCost: cost.total,
    results: cost.results,
    counts,
    verdicts,
    checks: { ...CHECKS },
    transcript: transcript.entries,
  };
}

const cell = (s: string | undefined): string => (s ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
const TARGETS: Record<Target, string> = {
  runware: 'Runware (real API)',
  simulator: 'the simulator (default shapes)',
  'simulator-alt': "the simulator (alternative shapes, `shapes: 'alt'`)",
};

export function costLine(r: ConformanceReport): string {
  if (r.totalCost === null) return `no cost reported (${r.results} results)`;
  return `${r.totalCost.toFixed(4)} USD for ${r.results} result(s)${r.target === 'runware' ? '' : ' (simulated)'}`;
}

export function renderMarkdown(r: ConformanceReport): string {
  const lines: string[] = [
    '# Runware conformance report (Ovi, runware:190@1)',
    '',
    `- target: ${TARGETS[r.target]}, ${r.endpoint}`,
    `- probe: ovi-conformance ${r.version} (node-red-contrib-runware-ovi), Node ${process.version}`,
    `- run: ${r.startedAt} → ${r.finishedAt}`,
    `- settings: ${r.settings.model}, numberResults ${r.settings.numberResults}, steps ${r.settings.steps}, includeCost, webhooks ${r.settings.webhooks ? 'on' : 'off (no --public-url)'}`,
    `- total cost: ${costLine(r)}`,
    `- verdicts: ${r.counts.holds} hold, ${r.counts.differs} differ, ${r.counts['not observed']} not observed`,
    '',
    'Assumptions are those of the project\'s shared/runware-api.md; "differs" says what was seen instead.',
    'Secrets (API key, webhook and upload tokens) are replaced by ***.',
    '',
    '## Verdicts',
    '',
    '| id | assumption | checks | verdict | seen |',
    '|---|---|---|---|---|',
    ...r.verdicts.map((v) => `| ${v.id} | ${cell(v.statement)} | ${v.checks.join(' ')} | **${v.verdict}** | ${cell(v.seen)} |`),
    '',
  ];
  const differ = r.verdicts.filter((v) => v.verdict === 'differs');
  if (differ.length) {
    lines.push('## Differences', '', ...differ.map((v) => `- **${v.id}** ${v.statement}\n  - seen: ${v.seen ?? '?'}`), '');
  }
  lines.push('## Checks', '', '| id | what the probe does |', '|---|---|', ...Object.entries(r.checks).map(([id, what]) => `| ${id} | ${cell(what)} |`), '');
  lines.push('## Transcript', '');
  for (const e of r.transcript) {
    if (e.kind === 'note') {
      lines.push(`${e.n}. \`${e.check}\` ${e.note ?? ''}`, '');
      continue;
    }
    const title = e.request ? `${e.request.method} ${e.request.url}` : e.kind;
    const outcome = e.response ? `${e.response.status}${e.response.ms !== undefined ? ` in ${e.response.ms} ms` : ''}` : 'no answer';
    lines.push(`### ${e.n}. ${e.check} ${e.kind}: ${title} → ${outcome}`, '', `at ${e.at}${e.error ? `; error: ${e.error}` : ''}`, '');
    if (e.request) lines.push('Request:', '', '```json', JSON.stringify({ headers: e.request.headers, body: e.request.body }, null, 2), '```', '');
    if (e.response) lines.push('Response:', '', '```json', JSON.stringify({ headers: e.response.headers, body: e.response.body }, null, 2), '```', '');
  }
  return lines.join('\n');
}

/** Write both files, redacted; returns their paths. */
export function writeReport(r: ConformanceReport, transcript: Transcript, outDir: string): { md: string; json: string } {
  fs.mkdirSync(outDir, { recursive: true });
  const md = path.join(outDir, 'conformance-report.md');
  const json = path.join(outDir, 'conformance-report.json');
  fs.writeFileSync(md, transcript.redact(renderMarkdown(r)));
  fs.writeFileSync(json, transcript.redact(JSON.stringify(r, null, 2)) + '\n');
  return { md, json };
}

export function summary(r: ConformanceReport): string {
  const lines = [
    `Conformance against ${TARGETS[r.target]} (${r.endpoint}): ${r.counts.holds} hold, ${r.counts.differs} differ, ${r.counts['not observed']} not observed.`,
  ];
  for (const v of r.verdicts.filter((x) => x.verdict === 'differs')) lines.push(`  differs ${v.id}: ${v.statement}\n           seen: ${v.seen ?? '?'}`);
  const unseen = r.verdicts.filter((x) => x.verdict === 'not observed').map((x) => x.id);
  if (unseen.length) lines.push(`  not observed: ${unseen.join(', ')}`);
  lines.push(`Total cost: ${costLine(r)}.`);
  return lines.join('\n');
}
