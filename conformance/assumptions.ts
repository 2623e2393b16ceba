/**
 * The assumptions of shared/runware-api.md that the package relies on, each with the probe check
 * that observes it and a judge that turns the observations into a verdict. Statements say what the
 * project assumes (and the simulator plays by default); where the docs leave a choice open, the
 * statement names the form we picked, so a real run tells which one Runware uses.
 */
import {
  codesOf,
  dataOf,
  deliveryKeys,
  errorsOf,
  failureCode,
  isRecord,
  stateOf,
  statusOf,
  webhookItems,
  type Exchange,
  type Observations,
  type PollTrace,
  type Submission,
} from './observations';

export type VerdictKind = 'holds' | 'differs' | 'not observed';

export interface Judgement {
  verdict: VerdictKind;
  /** What was seen (always for 'differs'; a short note otherwise). */
  seen?: string;
}

export interface Assumption {
  id: string;
  /** The section of runware-api.md it comes from. */
  section: string;
  statement: string;
  /** The probe check ids that observe it (see CHECKS). */
  checks: string[];
  judge(o: Observations): Judgement;
}

/** The probe's checks, by id (C08 and C14 run after the polls, C09 to C13 after them too). */
export const CHECKS: Readonly<Record<string, string>> = {
  C01: 'a request with a wrong API key (no task runs)',
  C02: 'a body that is not JSON (no task runs)',
  C03: 'a text-only videoInference (numberResults 1, few steps, includeCost; webhookURL and uploadEndpoint when a public URL is given)',
  C04: 'an image-to-video videoInference with a 256x256 PNG data URI (same settings)',
  C05: 'a videoInference with one invalid field (outputQuality 5; otherwise as C04)',
  C06: 'a videoInference whose inputs.image is a GIF data URI',
  C07: 'getResponse, one taskUUID per request: at once, then with backoff until done; once more at the end of the run',
  C08: 'getResponse of a random, unknown taskUUID',
  C09: 'one request with two getResponse tasks: a real taskUUID and an unknown one',
  C10: 'the C04 task sent again with the same taskUUID',
  C11: 'webhook POSTs received (the first one answered 500), needs --public-url',
  C12: 'uploadEndpoint PUTs received, needs --public-url',
  C13: 'a ranged GET of a result videoURL, without credentials',
  C14: 'a 429 answer (forced in the simulator; against Runware only if one happens)',
  C15: 'generations that fail (forced by prompt markers in the simulator; against Runware only if one happens)',
};

const holds = (seen?: string): Judgement => ({ verdict: 'holds', seen });
const differs = (seen: string): Judgement => ({ verdict: 'differs', seen });
const notObserved = (seen?: string): Judgement => ({ verdict: 'not observed', seen });

const json = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 240 ? s.slice(0, 240) + '…' : s;
};
const keys = (r: Record<string, unknown>): string => Object.keys(r).sort().join(', ');
const brief = (x: Exchange): string => `HTTP ${x.answer.status || `no answer (${x.answer.error})`} ${json(x.answer.json ?? x.answer.text.slice(0, 200))}`;

const CAMEL = /^[a-z][A-Za-z0-9]*$/;
const VALIDATION = /^(invalid|missing|unsupported|value|max|min|unknownParameter|conflict|duplicate|incompatible)/i;
const AUTH = /apikey|unauthori[sz]ed|forbidden|token|auth/i;
const NOT_FOUND_CODE = /notfound|expired|cancelled/i;
const SIGNATURE = /signature|hmac|x-.*-sig/i;

const accepted = (o: Observations): Submission[] =>
  [o.text, o.image, o.invalid, o.gif, o.duplicate, ...o.forced].filter((s): s is Submission => !!s && s.accepted);
const isInt = (v: unknown): boolean => (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && /^\d+$/.test(v));

/** Every answer of every trace, the final "later" one included. */
function traceAnswers(t: PollTrace): Array<{ status: number; body: unknown }> {
  return t.later ? [...t.answers, t.later] : t.answers;
}

function allFailures(o: Observations) {
  const out: Array<{ status: number; shape: 'errors' | 'item'; entry: Record<string, unknown> }> = [];
  for (const t of o.polls) {
    for (const a of traceAnswers(t)) for (const f of stateOf(a.body, t.taskUUID).failures) out.push({ status: a.status, ...f });
  }
  return out;
}

function successItems(o: Observations): Array<Record<string, unknown>> {
  return o.polls.flatMap((t) => traceAnswers(t).flatMap((a) => stateOf(a.body, t.taskUUID).successes));
}

function pendingItems(o: Observations): Array<{ trace: PollTrace; items: Array<Record<string, unknown>> }> {
  const out: Array<{ trace: PollTrace; items: Array<Record<string, unknown>> }> = [];
  for (const t of o.polls) {
    for (const a of t.answers) {
      const items = stateOf(a.body, t.taskUUID).pending;
      if (items.length > 0) out.push({ trace: t, items });
    }
  }
  return out;
}

function finishedCount(o: Observations, taskUUID: string): number {
  const t = o.polls.find((p) => p.taskUUID === taskUUID);
  if (!t) return 0;
  const last = traceAnswers(t)
    .map((a) => stateOf(a.body, taskUUID))
    .filter((s) => s.successes.length + s.failures.length > 0)
    .pop();
  return last ? last.successes.length + last.failures.length : 0;
}

export const ASSUMPTIONS: readonly Assumption[] = [
  {
    id: 'A01',
    section: 'Transport',
    statement: 'POST <endpoint> takes a JSON array of task objects; the answer names each task by its taskUUID.',
    checks: ['C03', 'C04'],
    judge(o) {
      const subs = [o.text, o.image].filter((s): s is Submission => !!s);
      const ok = subs.find((s) => s.accepted);
      if (ok) return holds('the answer names the task by its taskUUID');
      const twoHundred = subs.find((s) => s.answer.status >= 200 && s.answer.status < 300);
      if (twoHundred) return differs(`2xx without the task's taskUUID: ${brief(twoHundred)}`);
      return notObserved(subs.map(brief).join(' | ') || undefined);
    },
  },
  {
    id: 'A02',
    section: 'Transport',
    statement:
      "Authentication is 'Authorization: Bearer <key>'; a wrong key is refused with 401 or 403 and an errors entry whose code is in the auth family (e.g. invalidApiKey).",
    checks: ['C01'],
    judge(o) {
      if (!o.auth) return notObserved();
      const code = codesOf(o.auth.answer.json)[0];
      if ((o.auth.answer.status === 401 || o.auth.answer.status === 403) && code && AUTH.test(code)) return holds(`${o.auth.answer.status} ${code}`);
      return differs(brief(o.auth));
    },
  },
  {
    id: 'A03',
    section: 'Response envelope',
    statement: 'A successful request is answered HTTP 200 with {"data": [...]}.',
    checks: ['C03', 'C04', 'C07'],
    judge(o) {
      const oks = o.answers.filter((a) => a.status === 200);
      if (oks.length === 0) return notObserved();
      const bad = oks.find((a) => !isRecord(a.json) || !Array.isArray(a.json.data));
      return bad ? differs(`200 with ${json(bad.json ?? bad.text.slice(0, 200))}`) : holds(`${oks.length} answers`);
    },
  },
  {
    id: 'A04',
    section: 'Response envelope',
    statement:
      'A task with an invalid value is refused with HTTP 400 and {"errors": [{code, message, parameter, taskUUID}]}: code in the validation family, parameter naming the field.',
    checks: ['C05'],
    judge(o) {
      const s = o.invalid;
      if (!s) return notObserved();
      if (s.accepted) return differs(`accepted (a job was started): ${brief(s)}`);
      const entry = errorsOf(s.answer.json).find(
        (e) => e.parameter === 'outputQuality' || (Array.isArray(e.parameter) && e.parameter.includes('outputQuality')),
      );
      if (s.answer.status !== 400 || !entry) return differs(brief(s));
      const problems: string[] = [];
      if (typeof entry.code !== 'string' || !VALIDATION.test(entry.code)) problems.push(`code ${json(entry.code)}`);
      if (typeof entry.message !== 'string') problems.push('no message');
      if (entry.taskUUID !== s.taskUUID) problems.push(`taskUUID ${json(entry.taskUUID)}`);
      return problems.length ? differs(`${problems.join(', ')}; entry: ${json(entry)}`) : holds(`${entry.code}; fields: ${keys(entry)}`);
    },
  },
  {
    id: 'A05',
    section: 'Response envelope',
    statement: 'Error codes are short camelCase identifiers.',
    checks: ['C01', 'C02', 'C05', 'C06', 'C08', 'C09', 'C10'],
    judge(o) {
      const codes = [...new Set(o.answers.flatMap((a) => codesOf(a.json)))];
      if (codes.length === 0) return notObserved();
      const odd = codes.filter((c) => !CAMEL.test(c));
      return odd.length ? differs(`not camelCase: ${odd.join(', ')}`) : holds(codes.join(', '));
    },
  },
  {
    id: 'A06',
    section: 'Response envelope',
    statement: 'A body that is not JSON is refused with a 4xx and an error body ({"errors": [...]} or the singular {"error": {...}}).',
    checks: ['C02'],
    judge(o) {
      if (!o.badJson) return notObserved();
      const a = o.badJson.answer;
      const code = codesOf(a.json)[0];
      return a.status >= 400 && a.status < 500 && code ? holds(`${a.status} ${code}`) : differs(brief(o.badJson));
    },
  },
  {
    id: 'A07',
    section: 'Response envelope',
    statement: 'A rate-limited request is answered 429 with a Retry-After header.',
    checks: ['C14'],
    judge(o) {
      const seen = o.answers.filter((a) => a.status === 429);
      if (seen.length === 0) return notObserved('no 429 happened');
      const without = seen.find((a) => a.headers['retry-after'] === undefined);
      return without ? differs(`429 without Retry-After: ${json(without.json ?? without.text)}`) : holds(`Retry-After: ${seen[0].headers['retry-after']}`);
    },
  },
  {
    id: 'A08',
    section: 'Response envelope / Evidence',
    statement: 'A failed generation is reported inside an HTTP 200 getResponse answer.',
    checks: ['C07', 'C15'],
    judge(o) {
      const fails = allFailures(o);
      if (fails.length === 0) return notObserved('no generation failed');
      const odd = fails.find((f) => f.status !== 200);
      return odd ? differs(`HTTP ${odd.status} for ${json(odd.entry)}`) : holds(`${fails.length} failure reports`);
    },
  },
  {
    id: 'A09',
    section: 'Evidence',
    statement: 'A failed generation appears as an errors[] entry {code, message, taskUUID} (not as a data[] item with a nested error).',
    checks: ['C07', 'C15'],
    judge(o) {
      const fails = allFailures(o);
      if (fails.length === 0) return notObserved('no generation failed');
      const item = fails.find((f) => f.shape === 'item');
      if (item) return differs(`data[] item: ${json(item.entry)}`);
      const bad = fails.find((f) => typeof f.entry.code !== 'string' || typeof f.entry.message !== 'string');
      return bad ? differs(`entry without code/message: ${json(bad.entry)}`) : holds(`e.g. ${json(fails[0].entry)}`);
    },
  },
  {
    id: 'A10',
    section: 'videoInference async',
    statement: 'The acknowledgment comes at once: 200 {"data": [{"taskType": "videoInference", "taskUUID": <same>}]}.',
    checks: ['C03', 'C04'],
    judge(o) {
      const ok = [o.text, o.image].find((s) => s?.accepted);
      if (!ok) return notObserved();
      const item = dataOf(ok.answer.json).find((d) => d.taskUUID === ok.taskUUID);
      if (!item || item.taskType !== 'videoInference') return differs(brief(ok));
      const extra = Object.keys(item).filter((k) => k !== 'taskType' && k !== 'taskUUID');
      return holds(`${ok.answer.ms} ms${extra.length ? `; extra fields: ${extra.join(', ')}` : ''}`);
    },
  },
  {
    id: 'A11',
    section: 'The Ovi model / Evidence',
    statement: 'Text-to-video: a task without inputs is accepted (the model page says so; the generated OviParams marks inputs required).',
    checks: ['C03'],
    judge(o) {
      if (!o.text) return notObserved();
      return o.text.accepted ? holds() : differs(brief(o.text));
    },
  },
  {
    id: 'A12',
    section: 'The Ovi model / Evidence',
    statement: 'Image-to-video: inputs.image as a PNG data URI is accepted.',
    checks: ['C04'],
    judge(o) {
      if (!o.image) return notObserved();
      return o.image.accepted ? holds() : differs(brief(o.image));
    },
  },
  {
    id: 'A13',
    section: 'Evidence (images)',
    statement: 'An image data URI of a type Runware does not list (GIF) is refused with a validation error naming inputs.image.',
    checks: ['C06'],
    judge(o) {
      const s = o.gif;
      if (!s) return notObserved();
      if (s.accepted) return differs(`accepted (a job was started): ${brief(s)}`);
      const entry = errorsOf(s.answer.json).find((e) => e.parameter === 'inputs.image' || (Array.isArray(e.parameter) && e.parameter.includes('inputs.image')));
      return s.answer.status === 400 && entry ? holds(String(entry.code)) : differs(brief(s));
    },
  },
  {
    id: 'A14',
    section: 'getResponse',
    statement: 'getResponse for one taskUUID is answered 200 {"data": [items]}, each item with taskType "videoInference", the taskUUID and a status.',
    checks: ['C07'],
    judge(o) {
      const answers = o.polls.flatMap((t) => traceAnswers(t).map((a) => ({ t, a })));
      const ok = answers.filter(({ a }) => a.status === 200);
      if (ok.length === 0) return notObserved(answers.length ? `no 200: ${json(answers[0].a.body)}` : undefined);
      for (const { t, a } of ok) {
        const items = dataOf(a.body);
        const bad = items.find((i) => i.taskUUID !== t.taskUUID || i.taskType !== 'videoInference' || typeof i.status !== 'string');
        if (bad || (items.length === 0 && errorsOf(a.body).length === 0)) return differs(`item ${json(bad ?? a.body)}`);
      }
      const early = answers.filter(({ a }) => a.status !== 200).length;
      return holds(`${ok.length} answers${early ? `; ${early} not-200 answers too (e.g. not known yet)` : ''}`);
    },
  },
  {
    id: 'A15',
    section: 'getResponse',
    statement: 'While a task renders, getResponse shows one placeholder item with status "processing" for the task (whatever numberResults).',
    checks: ['C07'],
    judge(o) {
      const seen = pendingItems(o);
      if (seen.length === 0) return notObserved('every task was done at its first poll');
      const many = seen.find((s) => s.items.length > 1);
      if (many) return differs(`${many.items.length} placeholders for one task: ${json(many.items)}`);
      const other = seen.map((s) => s.items[0].status).find((st) => st !== 'processing');
      return other !== undefined ? differs(`status ${json(other)}`) : holds(`${seen.length} answers in progress`);
    },
  },
  {
    id: 'A16',
    section: 'getResponse / Evidence',
    statement: 'Processing items carry no progress field (progress exists only for tasks that report it; Ovi is not known to).',
    checks: ['C07'],
    judge(o) {
      const seen = pendingItems(o).flatMap((s) => s.items);
      if (seen.length === 0) return notObserved('no processing item was seen');
      const withProgress = seen.find((i) => i.progress !== undefined);
      return withProgress ? differs(`progress ${json(withProgress.progress)} on ${json(withProgress)}`) : holds();
    },
  },
  {
    id: 'A17',
    section: 'getResponse / Evidence (OviResult)',
    statement: 'A success item carries status "success", videoUUID, videoURL (http/https), an integer seed and, with includeCost, a numeric cost.',
    checks: ['C07'],
    judge(o) {
      const items = successItems(o);
      if (items.length === 0) return notObserved('no generation succeeded');
      for (const i of items) {
        const missing: string[] = [];
        if (i.status !== 'success') missing.push(`status ${json(i.status)}`);
        if (typeof i.videoUUID !== 'string') missing.push('videoUUID');
        if (typeof i.videoURL !== 'string' || !/^https?:\/\//.test(i.videoURL)) missing.push('videoURL');
        if (!isInt(i.seed)) missing.push('seed');
        if (typeof i.cost !== 'number') missing.push('cost');
        if (missing.length) return differs(`${missing.join(', ')} in ${json(i)}`);
      }
      return holds(`fields: ${keys(items[0])}`);
    },
  },
  {
    id: 'A18',
    section: 'Evidence (cumulative)',
    statement: 'getResponse answers are cumulative: a finished generation (success or failure) stays in every later answer.',
    checks: ['C07', 'C15'],
    judge(o) {
      let compared = 0;
      for (const t of o.polls) {
        let seenOk: string[] = [];
        let seenFail = 0;
        for (const a of traceAnswers(t)) {
          const s = stateOf(a.body, t.taskUUID);
          if (s.notFound && s.successes.length === 0) continue;
          const ok = s.successes.map((i) => String(i.videoUUID));
          if (seenOk.length > 0 || seenFail > 0) compared++;
          const lost = seenOk.filter((u) => !ok.includes(u));
          if (lost.length) return differs(`task ${t.taskUUID}: result ${lost[0]} missing from a later answer ${json(a.body)}`);
          if (s.failures.length < seenFail) return differs(`task ${t.taskUUID}: a failure vanished from a later answer ${json(a.body)}`);
          seenOk = ok;
          seenFail = s.failures.length;
        }
      }
      return compared > 0 ? holds(`${compared} later answers compared`) : notObserved();
    },
  },
  {
    id: 'A19',
    section: 'Evidence (per-generation outcomes)',
    statement: 'Outcomes are per generation: with numberResults > 1, one generation can fail while the others succeed.',
    checks: ['C15'],
    judge(o) {
      const multi = o.polls.filter((t) => t.numberResults > 1 && t.done);
      for (const t of multi) {
        const last = stateOf(traceAnswers(t)[traceAnswers(t).length - 1].body, t.taskUUID);
        if (last.successes.length > 0 && last.failures.length > 0) return holds(`${last.successes.length} succeeded, ${last.failures.length} failed`);
      }
      const forced = multi.find((t) => t.check === 'C15');
      if (forced) {
        const last = stateOf(traceAnswers(forced)[traceAnswers(forced).length - 1].body, forced.taskUUID);
        return differs(`one generation forced to fail: ${last.successes.length} succeeded, ${last.failures.length} failed`);
      }
      return notObserved('no task with numberResults > 1 had a failed generation');
    },
  },
  {
    id: 'A20',
    section: 'getResponse',
    statement: 'Finished results stay retrievable by getResponse (polled again at the end of the run, they are still there).',
    checks: ['C07'],
    judge(o) {
      const later = o.polls.filter((t) => t.later && t.done && stateOf(t.answers[t.answers.length - 1]?.body, t.taskUUID).successes.length > 0);
      if (later.length === 0) return notObserved();
      for (const t of later) {
        const s = stateOf(t.later?.body, t.taskUUID);
        if (s.successes.length === 0) return differs(`task ${t.taskUUID} after ${t.later?.after} ms: HTTP ${t.later?.status} ${json(t.later?.body)}`);
      }
      return holds(`after up to ${Math.max(...later.map((t) => t.later?.after ?? 0))} ms`);
    },
  },
  {
    id: 'A21',
    section: 'getResponse / Evidence',
    statement:
      'getResponse for an unknown taskUUID is answered 400 with an errors entry naming that taskUUID, code in the not-found family (taskFailedOrNotFound).',
    checks: ['C08'],
    judge(o) {
      const u = o.unknownPoll;
      if (!u) return notObserved();
      const entry = errorsOf(u.answer.json).find((e) => e.taskUUID === u.taskUUID);
      if (u.answer.status === 400 && entry && typeof entry.code === 'string' && NOT_FOUND_CODE.test(entry.code)) return holds(entry.code);
      return differs(brief(u));
    },
  },
  {
    id: 'A22',
    section: 'getResponse / Evidence (batching)',
    statement:
      'Several getResponse tasks may share a request: a real and an unknown taskUUID together are answered 200 with data for the real one and an errors entry naming the unknown one.',
    checks: ['C09'],
    judge(o) {
      const b = o.batch;
      if (!b) return notObserved();
      const a = b.answer;
      const known = dataOf(a.json).some((d) => d.taskUUID === b.known);
      const unknown = errorsOf(a.json).some((e) => e.taskUUID === b.unknown);
      if (a.status === 200 && known && unknown) return holds();
      return differs(brief(b));
    },
  },
  {
    id: 'A23',
    section: 'Evidence (duplicate taskUUID)',
    statement: 'A task sent again with a taskUUID already accepted is refused with a 4xx (no second job).',
    checks: ['C10'],
    judge(o) {
      const d = o.duplicate;
      if (!d) return notObserved();
      if (d.accepted) return differs(`accepted again (a second job may have started and cost money): ${brief(d)}`);
      return d.answer.status >= 400 && d.answer.status < 500 && errorsOf(d.answer.json).length > 0 ? holds(`HTTP ${d.answer.status}`) : differs(brief(d));
    },
  },
  {
    id: 'A24',
    section: 'Evidence (duplicate taskUUID)',
    statement: 'That refusal is HTTP 400 with code duplicateTaskUUID (our guess: no public source gives it; the nodes do not depend on it).',
    checks: ['C10'],
    judge(o) {
      const d = o.duplicate;
      if (!d || d.accepted) return notObserved();
      const code = codesOf(d.answer.json)[0];
      return d.answer.status === 400 && code === 'duplicateTaskUUID' ? holds() : differs(`HTTP ${d.answer.status} ${code ?? json(d.answer.json)}`);
    },
  },
  {
    id: 'A25',
    section: 'Webhooks',
    statement: 'With webhookURL, Runware POSTs once per finished result (redeliveries aside).',
    checks: ['C11'],
    judge(o) {
      const hooked = accepted(o).filter((s) => s.webhook);
      if (hooked.length === 0) return notObserved('no webhookURL was given (needs --public-url)');
      for (const s of hooked) {
        const expected = finishedCount(o, s.taskUUID);
        const distinct = deliveryKeys(o.hits, s.taskUUID).size;
        if (distinct !== expected)
          return differs(`task ${s.taskUUID}: ${distinct} distinct POSTs for ${expected} finished results (waited ${o.webhookWaitMs} ms)`);
      }
      return holds(`${hooked.length} tasks`);
    },
  },
  {
    id: 'A26',
    section: 'Webhooks / Evidence',
    statement: 'A result webhook body is {"data": [item]}, the item as getResponse reports the success.',
    checks: ['C11', 'C07'],
    judge(o) {
      const successes = o.hits
        .filter((h) => h.kind === 'webhook' && h.tokenOk)
        .flatMap((h) => webhookItems(h.json).filter((x) => statusOf(x.item) === 'success'));
      if (successes.length === 0) return notObserved(o.hits.length ? 'no success webhook' : 'no webhook received');
      const bare = successes.find((x) => x.form !== 'data');
      if (bare) return differs(`${bare.form} body: ${json(bare.item)}`);
      const polled = new Set(successItems(o).map((i) => String(i.videoUUID)));
      const stranger = successes.find((x) => !polled.has(String(x.item.videoUUID)));
      return stranger ? differs(`a webhook item getResponse never showed: ${json(stranger.item)}`) : holds(`fields: ${keys(successes[0].item)}`);
    },
  },
  {
    id: 'A27',
    section: 'Webhooks',
    statement: 'Query parameters of webhookURL (the ?token=) arrive as given.',
    checks: ['C11'],
    judge(o) {
      const hooks = o.hits.filter((h) => h.kind === 'webhook');
      if (hooks.length === 0) return notObserved();
      const bad = hooks.find((h) => !h.tokenOk);
      return bad ? differs(`query changed: ${bad.url}`) : holds();
    },
  },
  {
    id: 'A28',
    section: 'Webhooks',
    statement: 'Webhook POSTs carry no signature header (authentication is by the URL alone).',
    checks: ['C11'],
    judge(o) {
      const hooks = o.hits.filter((h) => h.kind === 'webhook');
      if (hooks.length === 0) return notObserved();
      const names = [...new Set(hooks.flatMap((h) => Object.keys(h.headers)))];
      const signed = names.filter((n) => SIGNATURE.test(n));
      return signed.length ? differs(`headers: ${signed.join(', ')}`) : holds(`headers: ${names.sort().join(', ')}`);
    },
  },
  {
    id: 'A29',
    section: 'Webhooks (unconfirmed)',
    statement: 'Webhook POSTs are sent with Content-Type application/json.',
    checks: ['C11'],
    judge(o) {
      const hooks = o.hits.filter((h) => h.kind === 'webhook');
      if (hooks.length === 0) return notObserved();
      const odd = hooks.find((h) => !/^application\/json/i.test(h.headers['content-type'] ?? ''));
      return odd ? differs(`Content-Type: ${json(odd.headers['content-type'])}`) : holds(hooks[0].headers['content-type']);
    },
  },
  {
    id: 'A30',
    section: 'Webhooks',
    statement: 'A webhook answered with a non-2xx status is delivered again.',
    checks: ['C11'],
    judge(o) {
      if (o.refusedBody === undefined) return notObserved();
      const again = o.hits.filter((h) => h.kind === 'webhook' && h.text === o.refusedBody).length;
      return again >= 2 ? holds(`${again} deliveries of the refused body`) : differs(`no redelivery within ${o.webhookWaitMs} ms`);
    },
  },
  {
    id: 'A31',
    section: 'uploadEndpoint',
    statement: 'With uploadEndpoint, Runware PUTs the raw media bytes there (an MP4 for outputFormat MP4), once per result.',
    checks: ['C12'],
    judge(o) {
      const uploaded = accepted(o).filter((s) => s.upload);
      if (uploaded.length === 0) return notObserved('no uploadEndpoint was given (needs --public-url)');
      const puts = o.hits.filter((h) => h.kind === 'upload' && h.tokenOk);
      if (puts.length === 0) return differs(`no PUT within ${o.webhookWaitMs} ms`);
      const odd = puts.find((h) => h.method !== 'PUT' || h.size === 0 || h.head?.slice(8, 16) !== '66747970');
      return odd ? differs(`${odd.method}, ${odd.size} bytes, starting ${odd.head}`) : holds(`${puts.length} PUTs`);
    },
  },
  {
    id: 'A32',
    section: 'uploadEndpoint (unconfirmed)',
    statement: 'The upload PUT carries Content-Type video/mp4 for MP4.',
    checks: ['C12'],
    judge(o) {
      const puts = o.hits.filter((h) => h.kind === 'upload' && h.tokenOk);
      if (puts.length === 0) return notObserved();
      const odd = puts.find((h) => h.headers['content-type'] !== 'video/mp4');
      return odd ? differs(`Content-Type: ${json(odd.headers['content-type'])}`) : holds();
    },
  },
  {
    id: 'A33',
    section: 'The Ovi model',
    statement: 'A result videoURL serves the MP4 by a plain GET, without credentials.',
    checks: ['C13'],
    judge(o) {
      const m = o.media;
      if (!m) return notObserved();
      const head = m.answer.bytes?.subarray(4, 8).toString('latin1');
      if ((m.answer.status === 200 || m.answer.status === 206) && head === 'ftyp') return holds(`${m.answer.status}, ${m.answer.headers['content-type']}`);
      return differs(
        `HTTP ${m.answer.status || m.answer.error}, ${m.answer.headers['content-type']}, starting ${m.answer.bytes?.subarray(0, 16).toString('hex')}`,
      );
    },
  },
];

/** The verdict of every assumption. */
export function judgeAll(o: Observations): Array<Omit<Assumption, 'judge'> & Judgement> {
  return ASSUMPTIONS.map(({ judge, ...a }) => {
    let j: Judgement;
    try {
      j = judge(o);
    } catch (err) {
      j = { verdict: 'not observed', seen: `judge failed: ${err instanceof Error ? err.message : String(err)}` };
    }
    return { ...a, ...j };
  });
}

/** Failure codes seen, for the summary. */
export function failureCodes(o: Observations): string[] {
  return [...new Set(allFailures(o).map((f) => failureCode(f) ?? '?'))];
}
