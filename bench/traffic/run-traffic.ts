// runTraffic: validate, run the HTTP or TCP load with progress, return the summary.
import { Progress } from './progress.js';
import { HARD_LIMIT_MS, resolveTraffic, type TrafficOptions } from './options.js';
import { Recorder, type TrafficSummary } from './recorder.js';
import { runHttpLoad } from './http-load.js';
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
    if (o.mode === 'http') await runHttpLoad(o, rec, deadline.signal);
    else await runTcpLoad(o, rec, deadline.signal);
  } finally {
    clearTimeout(timer);
    progress.stop();
  }
  return rec.summary(o.mode, o.target, performance.now() - started);
}
