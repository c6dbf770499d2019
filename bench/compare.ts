// The proxy comparison: every workload through every proxy, in the same run,
// against the same backends. Runs are interleaved (run 1 of every proxy, then run
// 2...) so a slow minute of the shared machine hits all of them alike.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startEnvironment } from './environment.js';
import { freePorts } from './proxies/child.js';
import type { ProxyKind, ProxyPlan, RunningProxy } from './proxies/types.js';
import type { Measurement, Workload, WorkloadContext } from './workloads/types.js';

export interface Sample {
  workload: string;
  proxy: string;
  run: number;
  values: Measurement;
}

export interface CompareOptions {
  proxies: readonly ProxyKind[];
  workloads: readonly Workload[];
  runs: number;
  durationS: number;
  idleConnections: number;
  log(line: string): void;
}

export interface CompareResult {
  samples: Sample[];
  proxies: string[];
  workloads: { name: string; title: string }[];
  skipped: string[];
}

export async function runCompare(o: CompareOptions): Promise<CompareResult> {
  const skipped: string[] = [];
  const workloads: Workload[] = [];
  for (const w of o.workloads) {
    const why = await w.unavailable();
    if (why) skipped.push(`workload ${w.name}: ${why}`);
    else workloads.push(w);
  }
  const needsIperf = workloads.some((w) => w.name.startsWith('bulk'));
  const env = await startEnvironment({ backends: 3, iperf: needsIperf }, o.log);
  const running: RunningProxy[] = [];
  const started: { kind: ProxyKind; plan: ProxyPlan }[] = [];
  const samples: Sample[] = [];
  try {
    for (const kind of o.proxies) {
      const why = await kind.unavailable();
      if (why) {
        skipped.push(`proxy ${kind.name}: ${why}`);
        continue;
      }
      const [httpPort, bulkPort] = await freePorts(2);
      const dir = join(env.dir, kind.name);
      mkdirSync(dir, { recursive: true });
      const plan: ProxyPlan = {
        httpPort: httpPort!,
        bulkPort: bulkPort!,
        httpBackends: env.httpBackends,
        bulkBackend: env.bulkBackend,
        maxConnections: o.idleConnections,
        dir,
      };
      try {
        running.push(await kind.start(plan));
        started.push({ kind, plan });
        o.log(`started ${kind.name}`);
      } catch (err) {
        skipped.push(`proxy ${kind.name}: did not start: ${(err as Error).message}`);
      }
    }
    for (const msg of skipped) o.log(`skipped ${msg}`);
    // let health checks mark the backends up before the first run
    await new Promise((r) => setTimeout(r, 2500));
    const ctx: WorkloadContext = {
      durationS: o.durationS,
      idleConnections: o.idleConnections,
      httpBackends: env.httpBackends,
      log: o.log,
    };
    for (let run = 1; run <= o.runs; run++) {
      for (const w of workloads) {
        // rotate the order each run: none is always first after a pause
        const order = running.map((_, i) => (i + run - 1) % running.length);
        for (const i of order) {
          let p = running[i]!;
          try {
            if (w.freshProxy) {
              await p.stop();
              p = running[i] = await started[i]!.kind.start(started[i]!.plan);
              await new Promise((r) => setTimeout(r, 2500));
            }
            const values = await w.run(p, ctx);
            samples.push({ workload: w.name, proxy: p.name, run, values });
            o.log(`run ${run}/${o.runs} ${w.name.padEnd(20)} ${p.name.padEnd(15)} ${describe(values)}`);
          } catch (err) {
            o.log(`run ${run}/${o.runs} ${w.name} ${p.name}: failed: ${(err as Error).message.split('\n')[0]}`);
          }
          // a short gap so sockets in TIME_WAIT and the previous run's tail do not overlap
          await new Promise((r) => setTimeout(r, 300));
        }
      }
    }
  } finally {
    for (const p of running) await p.stop();
    await env.stop();
  }
  return {
    samples,
    proxies: running.map((p) => p.name),
    workloads: workloads.map((w) => ({ name: w.name, title: w.title })),
    skipped,
  };
}

function describe(v: Measurement): string {
  return Object.entries(v)
    .map(([k, x]) => `${k}=${Number.isFinite(x) ? +x.toPrecision(4) : '-'}`)
    .join(' ');
}
