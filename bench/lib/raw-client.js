'use strict';
// The baseline of the CPU row: the minimal correct client doing the same HTTP work as our nodes,
// written as a plain axios script. One POST [task] per task (same task body as ours sends, fresh
// taskUUID), then getResponse polling BATCHED like ours: every task keeps its own schedule (initial
// delay, then the interval ×1.5 up to a cap), tasks due within a second of each other share a
// request, at most 200 tasks per request. Same keep-alive agent settings as our client (16 sockets).
// What it leaves out is what makes it "raw": no validation, no persistence, no Node-RED messages,
// no retries, no status, no correlation of msg properties.
const http = require('http');
const { randomUUID } = require('crypto');
const axios = require('axios');

const COALESCE_MS = 1000;
const MAX_BATCH = 200;
const FACTOR = 1.5;

function createRawClient({ url, apiKey }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const ax = axios.create({ httpAgent: agent, proxy: false, timeout: 60000, validateStatus: () => true });
  const headers = { Authorization: 'Bearer ' + apiKey, 'Content-Type': 'application/json' };
  // A correct client survives the keep-alive race (the server closes an idle socket as a request
  // goes out): one retry, same body. A resent submit keeps its taskUUID, so it cannot start a
  // second job (Runware answers duplicateTaskUUID, which means "accepted").
  const post = (body) =>
    ax.post(url, body, { headers }).catch((e) => {
      if (e && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) return ax.post(url, body, { headers });
      throw e;
    });
  const accepted = (res) => res.status === 200 || (res.data && Array.isArray(res.data.errors) && res.data.errors.some((x) => x.code === 'duplicateTaskUUID'));

  /** Submit n tasks at once and poll until each has its result (or an error). */
  function run({ template, n, timing, timeoutMs = 120000 }) {
    return new Promise((resolve, reject) => {
      const entries = new Map(); // taskUUID → { nextAt, interval }
      let completed = 0;
      let failed = 0;
      let timer = null;
      let busy = false;
      const guard = setTimeout(
        () => reject(new Error('raw client: ' + (completed + failed) + '/' + n + ' tasks settled after ' + timeoutMs + ' ms')),
        timeoutMs,
      );
      const check = () => {
        if (completed + failed >= n) {
          clearTimeout(guard);
          clearTimeout(timer);
          resolve({ completed, failed });
        }
      };
      const arm = () => {
        if (busy) return;
        clearTimeout(timer);
        let next = Infinity;
        for (const e of entries.values()) if (e.nextAt < next) next = e.nextAt;
        if (next !== Infinity) timer = setTimeout(tick, Math.max(0, next - Date.now()));
      };
      async function tick() {
        busy = true;
        try {
          const horizon = Date.now() + COALESCE_MS;
          const due = [];
          for (const [u, e] of entries) if (e.nextAt <= horizon) due.push(u);
          for (let i = 0; i < due.length; i += MAX_BATCH) {
            const batch = due.slice(i, i + MAX_BATCH);
            const res = await post(batch.map((taskUUID) => ({ taskType: 'getResponse', taskUUID })));
            const body = res.data || {};
            for (const d of body.data || []) if (d.status === 'success' && entries.delete(d.taskUUID)) completed++;
            for (const e of body.errors || []) if (e.taskUUID && entries.delete(e.taskUUID)) failed++;
            const now = Date.now();
            for (const u of batch) {
              const e = entries.get(u);
              if (!e) continue;
              e.nextAt = now + e.interval;
              e.interval = Math.min(timing.maxIntervalMs, Math.round(e.interval * FACTOR));
            }
          }
        } catch (e) {
          clearTimeout(guard);
          return reject(e);
        } finally {
          busy = false;
        }
        check();
        arm();
      }
      for (let i = 0; i < n; i++) {
        const task = { ...template, taskUUID: randomUUID() };
        post([task]).then(
          (res) => {
            if (accepted(res)) {
              entries.set(task.taskUUID, { nextAt: Date.now() + timing.initialDelayMs, interval: timing.intervalMs });
              arm();
            } else {
              failed++;
              check();
            }
          },
          (e) => {
            clearTimeout(guard);
            reject(e);
          },
        );
      }
    });
  }

  return { run, close: () => agent.destroy() };
}

module.exports = { createRawClient };
