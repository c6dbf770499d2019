// runTraffic: validate, run the HTTP or TCP load with progress, return the summary.
import { Progress } from './progress.js';
import { HARD_LIMIT_MS, resolveTraffic, type TrafficOptions } from './options.js';
import { Recorder, type TrafficSummary } from './recorder.js';
import { runHttpLoad } from './http-load.js';
import { runHttpPaced } from './http-paced.js';
import { runTcpLoad } from './tcp-load.js';

export async function runTraffic(opts: TrafficOptions): Promise<TrafficSummary> {
  const o = resolveTraffic(opts);
  const rec = new Recorder();
  const started = performance.now();
  const deadline = new AbortController();
  const limit = o.durationMs ?? HARD_LIMIT_MS;
  const timer = setTimeout(() => deadline.abort(), limit);
  const progress = new Progress(o.progressStream, o.progress, o.requests, o.durationMs, () => ({
    done: rec.done,
    errors: rec.errors,
    elapsedMs: performance.now() - started,
  }));
  progress.start();
  try {
    // a new connection per request is the TCP loop with an HTTP request as payload:
    // autocannon's reconnectRate drops the answer of the request it reconnects after
    if (o.mode === 'http' && !o.newConnection && o.rate !== undefined) await runHttpPaced(o, rec, deadline.signal);
    else if (o.mode === 'http' && !o.newConnection) await runHttpLoad(o, rec, deadline.signal);
    else await runTcpLoad(o, rec, deadline.signal);
  } finally {
    clearTimeout(timer);
    progress.stop();
  }
  // a run that ended by its count ends at its last answer: autocannon reports
  // completion on its next one-second tick, which would understate the rate
  const countDone = o.requests !== undefined && rec.done >= o.requests && rec.lastAt > 0;
  return rec.summary(o.mode, o.target, (countDone ? rec.lastAt : performance.now()) - started);
}
