// The algorithm comparison: the same traffic against three unlike backends (fast,
// slow, flaky) through one netmon daemon per algorithm, all running side by side so
// runs interleave. One TCP connection per request, so every request is a new pick.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ALGORITHMS } from '../daemon/config/schema.js';
import { startEnvironment, type BenchEnvironment } from './environment.js';
import { freePorts } from './proxies/child.js';
import { netmonKind } from './proxies/netmon.js';
import type { RunningProxy } from './proxies/types.js';
import { jainFairness, spreadOf, type Spread } from './measure/stats.js';
import { runTraffic } from './traffic/index.js';

/** what each backend is, in flag order b1, b2, b3 */
export const PROFILES = [
  { name: 'fast', latency: 'normal:2ms:0.5ms', errorRate: '0' },
  { name: 'slow', latency: 'normal:40ms:10ms', errorRate: '0' },
  { name: 'flaky', latency: 'normal:2ms:0.5ms', errorRate: '0.2' },
] as const;

export interface AlgorithmSample {
  algorithm: string;
  run: number;
  p50: number;
  p95: number;
  p99: number;
  errorRate: number;
  /** share of requests per backend profile (fast, slow, flaky) */
  shares: Record<string, number>;
  fairness: number;
  rate: number;
}

export interface AlgorithmRow {
  algorithm: string;
  p50: Spread;
  p95: Spread;
  p99: Spread;
  errorRate: Spread;
  fairness: Spread;
  shares: Record<string, number>;
}

/** A netmon started for one algorithm, in front of a bench environment's backends. */
export interface AlgorithmDaemon {
  algorithm: string;
  proxy: RunningProxy;
}

/**
 * Starts one netmon per algorithm in front of `env`'s HTTP backends (http checks every
 * 1 s, fall 3), each in `env.dir/<prefix><algorithm>`. Each is pushed to `into` as it
 * starts, so a failure part way still leaves the caller those to stop.
 */
export async function startPerAlgorithm(env: BenchEnvironment, prefix: string, into: AlgorithmDaemon[]): Promise<void> {
  const health =
    '{ type = "http", path = "/health", expect_status = 200, interval = "1s", timeout = "1s", rise = 1, fall = 3 }';
  for (const algorithm of ALGORITHMS) {
    const [httpPort, bulkPort] = await freePorts(2);
    const dir = join(env.dir, `${prefix}${algorithm}`);
    mkdirSync(dir, { recursive: true });
    const proxy = await netmonKind({ algorithm, health }, `netmon-${algorithm}`).start({
      httpPort: httpPort!,
      bulkPort: bulkPort!,
      httpBackends: env.httpBackends,
      bulkBackend: env.httpBackends[0]!,
      maxConnections: 1000,
      dir,
    });
    into.push({ algorithm, proxy });
  }
}

export async function runAlgorithms(o: {
  runs: number;
  requests: number;
  rate: number;
  log(line: string): void;
}): Promise<{ samples: AlgorithmSample[]; rows: AlgorithmRow[] }> {
  const env = await startEnvironment(
    {
      backends: PROFILES.length,
      iperf: false,
      flags: [
        '--latency',
        PROFILES.map((p) => p.latency).join(','),
        '--error-rate',
        PROFILES.map((p) => p.errorRate).join(','),
        '--error-spread',
        'even',
      ],
    },
    o.log,
  );
  const names = Object.fromEntries(PROFILES.map((p, i) => [`b${i + 1}`, p.name]));
  const daemons: AlgorithmDaemon[] = [];
  const samples: AlgorithmSample[] = [];
  try {
    await startPerAlgorithm(env, '', daemons);
    await new Promise((r) => setTimeout(r, 2500));
    for (let run = 1; run <= o.runs; run++) {
      for (const { algorithm, proxy } of daemons) {
        const s = await runTraffic({
          target: `127.0.0.1:${proxy.httpPort}`,
          mode: 'tcp',
          requests: o.requests,
          rate: o.rate,
          concurrent: 40,
          timeoutMs: 5000,
          progress: 'none',
        });
        const counts = PROFILES.map((p) => {
          const b = Object.entries(names).find(([, n]) => n === p.name)![0];
          return s.distribution[b] ?? 0;
        });
        const total = counts.reduce((a, b) => a + b, 0);
        const sample: AlgorithmSample = {
          algorithm,
          run,
          p50: s.latencyMs.p50,
          p95: s.latencyMs.p95,
          p99: s.latencyMs.p99,
          errorRate: s.requests > 0 ? s.errors / s.requests : NaN,
          shares: Object.fromEntries(PROFILES.map((p, i) => [p.name, total > 0 ? counts[i]! / total : 0])),
          fairness: jainFairness(counts),
          rate: s.rate,
        };
        samples.push(sample);
        o.log(
          `run ${run}/${o.runs} ${algorithm.padEnd(22)} p50 ${sample.p50} p95 ${sample.p95} p99 ${sample.p99} ms, errors ${(sample.errorRate * 100).toFixed(1)}%, ` +
            `shares ${PROFILES.map((p) => `${p.name} ${(sample.shares[p.name]! * 100).toFixed(0)}%`).join(' ')}`,
        );
      }
    }
  } finally {
    for (const d of daemons) await d.proxy.stop();
    await env.stop();
  }
  const rows: AlgorithmRow[] = ALGORITHMS.map((algorithm) => {
    const mine = samples.filter((s) => s.algorithm === algorithm);
    const pick = (f: (s: AlgorithmSample) => number): Spread => spreadOf(mine.map(f));
    return {
      algorithm,
      p50: pick((s) => s.p50),
      p95: pick((s) => s.p95),
      p99: pick((s) => s.p99),
      errorRate: pick((s) => s.errorRate),
      fairness: pick((s) => s.fairness),
      shares: Object.fromEntries(PROFILES.map((p) => [p.name, spreadOf(mine.map((s) => s.shares[p.name]!)).median])),
    };
  });
  return { samples, rows };
}
