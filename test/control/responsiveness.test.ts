// Whatever arrives on the control socket, the main thread keeps turning: health
// probes, /healthz, timers and signals wait at most one bounded batch of
// control work. Each flood that used to stall a daemon (a write of empty lines
// held it 1.4 s per 64 KiB; pipelined `show stats` up to 466 ms per write; 1,000
// silent clients locked `netmon ctl` out for 60 s) runs from a worker thread
// against a real daemon in this process, while the main thread is watched.
//
// The measure is the main thread's own CPU time between two ticks of a 2 ms
// timer: work that kept the event loop from turning. A busy machine delays the
// ticks but does not add CPU time to this thread, so the bound holds under load.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { startMetricsServer, type MetricsServer } from '../../daemon/control/metrics/server.js';
import { startControlFixture, type ControlFixture } from './fixture.js';
import type { FloodResult, FloodScenario, HealthzResult, WorkerInit } from './flood-worker.js';
import { parsePromText } from '../metrics/prom-text.js';

/** The main thread must come back to its event loop within this much CPU time (the target for /healthz). */
const MAX_TURN_CPU_MS = 50;

let f: ControlFixture;
let metrics: MetricsServer;

before(async () => {
  f = await startControlFixture();
  metrics = await startMetricsServer(f.d.daemon, { host: '127.0.0.1', port: 0, text: '127.0.0.1:0' }, () =>
    f.control.stats(),
  );
});
after(async () => {
  await metrics.close();
  await f.close();
});

interface TurnWatch {
  /** most CPU time (ms) the main thread spent between two timer ticks */
  maxCpuMs: number;
  /** longest wall time (ms) between two ticks: includes time the machine gave to others */
  maxGapMs: number;
  ticks: number;
}

function watchMainThread(): { stop(): TurnWatch } {
  const w: TurnWatch = { maxCpuMs: 0, maxGapMs: 0, ticks: 0 };
  let cpu = process.threadCpuUsage();
  let wall = performance.now();
  const timer = setInterval(() => {
    const d = process.threadCpuUsage(cpu);
    cpu = process.threadCpuUsage();
    const now = performance.now();
    w.maxCpuMs = Math.max(w.maxCpuMs, (d.user + d.system) / 1000);
    w.maxGapMs = Math.max(w.maxGapMs, now - wall);
    wall = now;
    w.ticks++;
  }, 2);
  return {
    stop: () => {
      clearInterval(timer);
      return w;
    },
  };
}

function startWorker(init: WorkerInit): Worker {
  return new Worker(new URL('./flood-worker.js', import.meta.url), { workerData: init });
}

interface Measured {
  r: FloodResult;
  health: HealthzResult;
  turn: TurnWatch;
}

/** Runs `scenario` from one worker while another polls /healthz and this thread watches itself. */
async function flood(scenario: FloodScenario): Promise<Measured> {
  const prober = startWorker({ role: 'healthz', port: metrics.address!.port });
  await once(prober, 'message');
  const watch = watchMainThread();
  const flooder = startWorker({ role: 'flood', socket: f.sock, scenario });
  try {
    const [r] = (await once(flooder, 'message')) as [FloodResult];
    const turn = watch.stop();
    prober.postMessage('stop');
    const [health] = (await once(prober, 'message')) as [HealthzResult];
    return { r, health, turn };
  } finally {
    watch.stop();
    await Promise.all([flooder.terminate(), prober.terminate()]);
  }
}

function assertResponsive(t: TestContext, { r, health, turn }: Measured): void {
  const slowest = Math.max(...health.latencies);
  const seen = `main thread: at most ${turn.maxCpuMs.toFixed(1)} ms CPU between ticks (longest gap ${turn.maxGapMs.toFixed(0)} ms, ${turn.ticks} ticks); /healthz: ${health.latencies.length} answers, slowest ${slowest.toFixed(0)} ms; flood took ${r.elapsedMs.toFixed(0)} ms`;
  t.diagnostic(seen);
  assert.ok(r.ok, `${r.detail}; ${seen}`);
  assert.equal(health.failures, 0, `every /healthz answered; ${seen}`);
  assert.ok(health.latencies.length >= 1, seen);
  assert.ok(turn.maxCpuMs < MAX_TURN_CPU_MS, seen);
}

test('one write of 64 KiB of empty lines: nearly free, and the request after it is answered', async (t) => {
  const m = await flood({ kind: 'empty-lines', bytes: 64 * 1024 });
  assertResponsive(t, m);
});

test('one write of 1 MiB of empty lines: the main thread keeps turning', async (t) => {
  const m = await flood({ kind: 'empty-lines', bytes: 1024 * 1024 });
  assertResponsive(t, m);
});

test('2,000 pipelined show-stats requests in one write: answered in order, in bounded batches', async (t) => {
  const m = await flood({ kind: 'pipelined', clients: 1, lines: 2000 });
  assertResponsive(t, m);
});

test('20 clients pipelining 200 show-stats each share the bounded batches', async (t) => {
  const m = await flood({ kind: 'pipelined', clients: 20, lines: 200 });
  assertResponsive(t, m);
});

test('1,000 clients that connect and send nothing do not lock netmon ctl out', async (t) => {
  const m = await flood({ kind: 'silent', clients: 1000 });
  assertResponsive(t, m);
  // counted where an operator looks: the metrics port
  const scrape = parsePromText(await (await fetch(`http://127.0.0.1:${metrics.address!.port}/metrics`)).text());
  const closed = scrape.get('netmon_control_clients_closed_total')!.samples;
  assert.equal(closed.find((s) => s.labels.reason === 'evicted')?.value, 1, 'the longest idle client made room');
});
