// The slowdown-and-recovery scenario of the algorithm comparison: three alike
// backends; b1 slows down for a while, then recovers. One netmon daemon per
// algorithm, all at once against the same backends (so every algorithm sees the
// same timeline), each with its own paced client; traffic is sent one second at a
// time, so each algorithm's share to b1 is known second by second.
import { startEnvironment } from './environment.js';
import { startPerAlgorithm, type AlgorithmDaemon } from './algorithms.js';
import { median } from './measure/stats.js';
import { runTraffic } from './traffic/index.js';

/** what every backend answers like, and b1 while slow */
export const NORMAL_LATENCY = 'normal:2ms:0.5ms';
export const SLOW_LATENCY = 'normal:40ms:10ms';

export interface RecoveryPhases {
  /** seconds before b1 slows down */
  beforeS: number;
  /** seconds b1 is slow */
  slowS: number;
  /** seconds after b1 recovered */
  afterS: number;
}

/** One second of one algorithm's traffic. */
export interface RecoverySecond {
  /** seconds since the scenario began, at the start of this second's traffic */
  t: number;
  /** answers per backend name */
  answers: Record<string, number>;
  p95: number;
  errors: number;
}

export interface RecoveryRow {
  algorithm: string;
  /** b1's share of the requests: before, while slow, the first 10 s after, and the rest */
  before: number;
  slow: number;
  firstAfter: number;
  later: number;
  /** median over the slow phase's seconds of the per-second p95, ms */
  slowP95: number;
  /** seconds after the recovery until the first second in which b1 had a quarter of the requests; NaN if never */
  backAfterS: number;
}

export async function runRecovery(o: {
  phases: RecoveryPhases;
  /** requests per second per algorithm */
  rate: number;
  log(line: string): void;
}): Promise<{ phases: RecoveryPhases; seconds: Record<string, RecoverySecond[]>; rows: RecoveryRow[] }> {
  const { phases, rate } = o;
  const env = await startEnvironment(
    { backends: 3, iperf: false, flags: ['--latency', [NORMAL_LATENCY, NORMAL_LATENCY, NORMAL_LATENCY].join(',')] },
    o.log,
  );
  const daemons: AlgorithmDaemon[] = [];
  const seconds: Record<string, RecoverySecond[]> = {};
  const b1 = env.httpBackends[0]!;
  const setB1 = async (latency: string): Promise<void> => {
    const res = await fetch(`http://127.0.0.1:${b1}/_sim`, { method: 'POST', body: JSON.stringify({ latency }) });
    if (!res.ok) throw new Error(`POST /_sim on b1: ${res.status} ${await res.text()}`);
  };
  try {
    await startPerAlgorithm(env, 'recovery-', daemons);
    for (const { algorithm } of daemons) seconds[algorithm] = [];
    await new Promise((r) => setTimeout(r, 2500));
    const total = phases.beforeS + phases.slowS + phases.afterS;
    const start = performance.now();
    const elapsed = (): number => (performance.now() - start) / 1000;
    o.log(
      `slowdown and recovery: b1 slow (${SLOW_LATENCY}) from ${phases.beforeS}s to ${phases.beforeS + phases.slowS}s of ${total}s, ${rate}/s per algorithm`,
    );
    const timeline = (async (): Promise<void> => {
      await new Promise((r) => setTimeout(r, phases.beforeS * 1000));
      await setB1(SLOW_LATENCY);
      o.log('b1 slowed down');
      await new Promise((r) => setTimeout(r, phases.beforeS * 1000 + phases.slowS * 1000 - elapsed() * 1000));
      await setB1(NORMAL_LATENCY);
      o.log('b1 recovered');
    })();
    await Promise.all([
      timeline,
      ...daemons.map(async ({ algorithm, proxy }) => {
        while (elapsed() < total) {
          const t = elapsed();
          const s = await runTraffic({
            target: `127.0.0.1:${proxy.httpPort}`,
            mode: 'tcp',
            requests: rate,
            rate,
            concurrent: 10,
            timeoutMs: 5000,
            progress: 'none',
          });
          seconds[algorithm]!.push({ t, answers: s.distribution, p95: s.latencyMs.p95, errors: s.errors });
        }
      }),
    ]);
  } finally {
    await setB1(NORMAL_LATENCY).catch(() => {});
    for (const d of daemons) await d.proxy.stop();
    await env.stop();
  }
  const rows = daemons.map(({ algorithm }) => recoveryRow(algorithm, seconds[algorithm]!, phases));
  for (const r of rows) {
    o.log(
      `${r.algorithm.padEnd(22)} b1 share before ${pct(r.before)}, slow ${pct(r.slow)}, first 10 s after ${pct(r.firstAfter)}, later ${pct(r.later)}; back after ${r.backAfterS}s`,
    );
  }
  return { phases, seconds, rows };
}

function pct(v: number): string {
  return Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '-';
}

/** b1's share of the answers in the seconds that began within [from, to). */
function shareIn(list: readonly RecoverySecond[], from: number, to: number): number {
  let b1 = 0;
  let all = 0;
  for (const s of list) {
    if (s.t < from || s.t >= to) continue;
    b1 += s.answers['b1'] ?? 0;
    for (const n of Object.values(s.answers)) all += n;
  }
  return all > 0 ? b1 / all : NaN;
}

/** b1's share in one second's answers. */
export function b1Share(s: RecoverySecond): number {
  const all = Object.values(s.answers).reduce((a, n) => a + n, 0);
  return all > 0 ? (s.answers['b1'] ?? 0) / all : NaN;
}

function recoveryRow(algorithm: string, list: readonly RecoverySecond[], p: RecoveryPhases): RecoveryRow {
  const slowFrom = p.beforeS;
  const back = p.beforeS + p.slowS;
  const firstBack = list.find((s) => s.t >= back && b1Share(s) >= 0.25);
  return {
    algorithm,
    before: shareIn(list, 0, slowFrom),
    slow: shareIn(list, slowFrom, back),
    firstAfter: shareIn(list, back, back + 10),
    later: shareIn(list, back + 10, Infinity),
    slowP95: median(list.filter((s) => s.t >= slowFrom && s.t < back).map((s) => s.p95)),
    backAfterS: firstBack ? Math.round(firstBack.t - back) : NaN,
  };
}
