/**
 * The probe: the smallest real Ovi tasks and a few free requests, sent with plain HTTP, everything
 * recorded as Observations (what assumptions.ts judges) and in the transcript. Against the
 * simulator it also forces what a real run only meets by chance (a 429, failed generations).
 */
import { randomUUID } from 'crypto';
import { send, type HttpAnswer } from './http';
import { PROBE_GIF, PROBE_PNG } from './images';
import { dataOf, deliveryKeys, stateOf, type Observations, type PollTrace, type Submission, type Target } from './observations';
import type { Receiver } from './receiver';
import type { Transcript } from './transcript';

export const OVI_MODEL = 'runware:190@1';
/** The cheapest settings that still make a real clip. */
export const PROBE_STEPS = 10;
const PROMPT = 'A small robot waves at the camera and says <S>Hello from the conformance probe.<E> <AUDCAP>A cheerful synthetic voice.<ENDAUDCAP>';

/** Timing: Runware's TypeScript SDK cadence for real runs (1 s, +0.5 s, x1.5 up to 10 s); fast for the simulator. */
export interface Pace {
  startMs: number;
  stepMs: number;
  factor: number;
  capMs: number;
  requestTimeoutMs: number;
  /** How long to wait for webhooks, uploads and a redelivery once the polls are done. */
  webhookWaitMs: number;
  /** "Not found" right after a submit means "not known yet" for this long. */
  notFoundGraceMs: number;
}

export const REAL_PACE: Pace = {
  startMs: 1000,
  stepMs: 500,
  factor: 1.5,
  capMs: 10_000,
  requestTimeoutMs: 60_000,
  webhookWaitMs: 120_000,
  notFoundGraceMs: 60_000,
};
export const SIM_PACE: Pace = { startMs: 50, stepMs: 25, factor: 1.5, capMs: 200, requestTimeoutMs: 10_000, webhookWaitMs: 6_000, notFoundGraceMs: 2_000 };

export interface ProbeConfig {
  target: Target;
  endpoint: string;
  apiKey: string;
  /** The simulator's base URL (http://host:port), to force situations through its control routes. */
  simControl?: string;
  receiver?: Receiver;
  pace: Pace;
  /** Epoch ms after which the probe stops polling and waiting. */
  deadlineAt: number;
  transcript: Transcript;
  log(line: string): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export async function runProbe(cfg: ProbeConfig): Promise<Observations> {
  return new Probe(cfg).run();
}

class Probe {
  private readonly o: Observations;
  private readonly submittedAt = new Map<string, number>();

  constructor(private readonly cfg: ProbeConfig) {
    this.o = { target: cfg.target, endpoint: cfg.endpoint, forced: [], polls: [], hits: cfg.receiver?.hits ?? [], answers: [] };
  }

  async run(): Promise<Observations> {
    const { cfg, o } = this;
    const step = (check: string, what: string) => cfg.log(`${check} ${what}`);

    step('C01', 'wrong API key');
    o.auth = { answer: await this.api('C01', [this.getResponse(randomUUID())], 'conformance-probe-wrong-key') };
    step('C02', 'a body that is not JSON');
    o.badJson = { answer: await this.api('C02', '[{"taskType": "getResponse", ') };

    step('C03', 'text-only task');
    o.text = await this.submit('C03', this.videoTask({}));
    step('C04', 'image task');
    const imageTask = this.videoTask({ inputs: { image: PROBE_PNG } });
    o.image = await this.submit('C04', imageTask);
    step('C05', 'one invalid field');
    o.invalid = await this.submit('C05', this.videoTask({ inputs: { image: PROBE_PNG }, outputQuality: 5 }));
    step('C06', 'a GIF data URI');
    o.gif = await this.submit('C06', this.videoTask({ inputs: { image: PROBE_GIF } }));
    if (o.image.accepted) {
      step('C10', 'the image task again, same taskUUID');
      o.duplicate = await this.submit('C10', imageTask, true);
    }
    if (cfg.simControl) {
      step('C15', 'generations forced to fail (simulator markers)');
      o.forced.push(await this.submit('C15', this.videoTask({ inputs: { image: PROBE_PNG }, positivePrompt: `${PROMPT} [sim:fail]` })));
      o.forced.push(await this.submit('C15', this.videoTask({ inputs: { image: PROBE_PNG }, positivePrompt: `${PROMPT} [sim:fail:1]`, numberResults: 2 })));
    }

    step('C07', `polling ${o.polls.length} task(s)`);
    await this.pollAll();

    step('C08', 'unknown taskUUID');
    const unknown = randomUUID();
    o.unknownPoll = { taskUUID: unknown, answer: await this.api('C08', [this.getResponse(unknown)]) };
    if (cfg.simControl) {
      step('C14', '429 (forced in the simulator)');
      await this.control('C14', '/__sim/faults', { queue: ['429'] });
      o.rateLimit = { answer: await this.api('C14', [this.getResponse(randomUUID())]) };
    }

    const known = o.polls.find((t) => t.done && stateOf(t.answers[t.answers.length - 1]?.body, t.taskUUID).successes.length > 0) ?? o.polls[0];
    if (known) {
      step('C09', 'batched getResponse');
      const other = randomUUID();
      o.batch = { known: known.taskUUID, unknown: other, answer: await this.api('C09', [this.getResponse(known.taskUUID), this.getResponse(other)]) };
    }

    const video = this.firstSuccess();
    if (video) {
      step('C13', 'ranged GET of a videoURL');
      o.media = { url: video, answer: await this.media(video) };
    }

    if (cfg.receiver) {
      step('C11', 'waiting for webhooks and uploads');
      await this.waitForDeliveries();
    }

    step('C07', 'polling the finished tasks once more');
    for (const t of o.polls.filter((p) => p.done)) {
      const answer = await this.api('C07', [this.getResponse(t.taskUUID)]);
      t.later = { after: Date.now() - (this.submittedAt.get(t.taskUUID) ?? Date.now()), status: answer.status, body: answer.json };
    }
    return o;
  }

  private videoTask(extra: Record<string, unknown>): Record<string, unknown> {
    return {
      taskType: 'videoInference',
      taskUUID: randomUUID(),
      model: OVI_MODEL,
      positivePrompt: PROMPT,
      deliveryMethod: 'async',
      outputType: 'URL',
      outputFormat: 'MP4',
      numberResults: 1,
      steps: PROBE_STEPS,
      includeCost: true,
      ...extra,
    };
  }

  private getResponse(taskUUID: string): Record<string, unknown> {
    return { taskType: 'getResponse', taskUUID };
  }

  /** One API request; every answer goes to the transcript and the observations. */
  private async api(check: string, body: unknown, key = this.cfg.apiKey): Promise<HttpAnswer> {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const headers = { 'Content-Type': 'application/json', Accept: 'application/json', Authorization: `Bearer ${key}` };
    const answer = await send({ method: 'POST', url: this.cfg.endpoint, headers, body: text, timeoutMs: this.cfg.pace.requestTimeoutMs });
    this.cfg.transcript.add({
      check,
      kind: 'api',
      request: { method: 'POST', url: this.cfg.endpoint, headers, body },
      response: { status: answer.status, headers: answer.headers, body: answer.json ?? answer.text, ms: answer.ms },
      error: answer.error,
    });
    this.o.answers.push(answer);
    return answer;
  }

  /** Send one videoInference; an accepted one is tracked for polling. `again` resends it as is. */
  private async submit(check: string, task: Record<string, unknown>, again = false): Promise<Submission> {
    const taskUUID = String(task.taskUUID);
    const receiver = this.cfg.receiver;
    if (!again && receiver) Object.assign(task, { webhookURL: receiver.hookUrl(), uploadEndpoint: receiver.uploadUrl(taskUUID) });
    const answer = await this.api(check, [task]);
    const accepted = answer.status >= 200 && answer.status < 300 && dataOf(answer.json).some((d) => d.taskUUID === taskUUID);
    const numberResults = typeof task.numberResults === 'number' ? task.numberResults : 1;
    if (accepted && !again) {
      this.submittedAt.set(taskUUID, Date.now());
      this.o.polls.push({ taskUUID, numberResults, check, answers: [], done: false });
    }
    return { sent: [task], answer, taskUUID, numberResults, accepted, webhook: 'webhookURL' in task, upload: 'uploadEndpoint' in task };
  }

  /** A simulator control request (not part of the Runware conversation, but in the transcript). */
  private async control(check: string, path: string, body: unknown): Promise<void> {
    const base = this.cfg.simControl as string;
    const answer = await send({
      method: 'POST',
      url: base + path,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      timeoutMs: 5000,
    });
    this.cfg.transcript.add({ check, kind: 'note', note: `simulator control: POST ${path} ${JSON.stringify(body)} → ${answer.status}` });
  }

  /** Single-UUID polls (as Runware's SDKs do), all tasks in parallel per round, with backoff. */
  private async pollAll(): Promise<void> {
    const { pace, deadlineAt } = this.cfg;
    let delay = 0;
    for (let round = 0; this.o.polls.some((t) => !t.done) && Date.now() < deadlineAt; round++) {
      await sleep(Math.min(delay, deadlineAt - Date.now()));
      await Promise.all(this.o.polls.filter((t) => !t.done).map((t) => this.pollOnce(t)));
      delay = round === 0 ? pace.startMs : round === 1 ? delay + pace.stepMs : Math.min(delay * pace.factor, pace.capMs);
    }
  }

  private async pollOnce(t: PollTrace): Promise<void> {
    const answer = await this.api('C07', [this.getResponse(t.taskUUID)]);
    const after = Date.now() - (this.submittedAt.get(t.taskUUID) ?? Date.now());
    t.answers.push({ after, status: answer.status, body: answer.json });
    if (answer.status === 0 || answer.status === 408 || answer.status === 429 || answer.status >= 500) return; // transient: poll again
    const s = stateOf(answer.json, t.taskUUID);
    if (s.notFound && s.successes.length === 0) {
      if (after > this.cfg.pace.notFoundGraceMs) t.done = true; // lost: judged from what was seen
      return;
    }
    if (answer.status >= 400) {
      t.done = true;
      return;
    }
    const finished = s.successes.length + s.failures.length;
    if (s.pending.length === 0 && (finished >= t.numberResults || s.failures.length > 0)) t.done = true;
  }

  private firstSuccess(): string | undefined {
    for (const t of this.o.polls) {
      for (const a of t.answers) {
        const item = stateOf(a.body, t.taskUUID).successes.find((i) => typeof i.videoURL === 'string');
        if (item) return item.videoURL as string;
      }
    }
    return undefined;
  }

  private async media(url: string): Promise<HttpAnswer> {
    const headers = { Range: 'bytes=0-65535' };
    const answer = await send({ method: 'GET', url, headers, timeoutMs: this.cfg.pace.requestTimeoutMs, maxBytes: 65536, keepBytes: true });
    const head = answer.bytes?.subarray(0, 16).toString('hex');
    this.cfg.transcript.add({
      check: 'C13',
      kind: 'media',
      request: { method: 'GET', url, headers },
      response: { status: answer.status, headers: answer.headers, body: `(${answer.bytes?.length ?? 0} bytes kept, starting ${head})`, ms: answer.ms },
      error: answer.error,
    });
    return answer;
  }

  /** Until every finished generation has its webhook (and upload), and the refused one came again. */
  private async waitForDeliveries(): Promise<void> {
    const receiver = this.cfg.receiver as Receiver;
    const began = Date.now();
    const until = Math.min(this.cfg.deadlineAt, began + this.cfg.pace.webhookWaitMs);
    const complete = (): boolean => {
      for (const t of this.o.polls) {
        const last = t.answers[t.answers.length - 1];
        const s = last ? stateOf(last.body, t.taskUUID) : undefined;
        if (!s) continue;
        const keys = deliveryKeys(receiver.hits, t.taskUUID);
        const uploads = receiver.hits.filter((h) => h.kind === 'upload' && h.tokenOk && h.url.includes(t.taskUUID)).length;
        if (keys.size < s.successes.length + s.failures.length || uploads < s.successes.length) return false;
      }
      const refused = receiver.refusedBody;
      return refused === undefined || receiver.hits.filter((h) => h.text === refused).length >= 2;
    };
    while (!complete() && Date.now() < until) await sleep(Math.min(250, this.cfg.pace.capMs));
    this.o.webhookWaitMs = Date.now() - began;
    this.o.refusedBody = receiver.refusedBody;
  }
}
