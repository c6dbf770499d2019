// `netmon bench --only profile` (and after a missed target): each main workload
// through its own profiled daemon. Two views: V8 CPU profiles of the daemon's
// threads (where the JavaScript time goes, profile.ts), and, where `perf` can
// run, netmon and HAProxy side by side under the same load: the share of CPU
// samples per binary and the system calls per unit of work (profile-perf.ts).
// Written to bench/results/profile.md.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEnvironment, type BenchEnvironment } from './environment.js';
import { profileReport } from './profile.js';
import { PERF_AREAS, perfProfile, perfUnavailable, type PerfProfile } from './profile-perf.js';
import { freePorts } from './proxies/child.js';
import { haproxyKind } from './proxies/haproxy.js';
import { netmonKind } from './proxies/netmon.js';
import type { ProxyKind, RunningProxy } from './proxies/types.js';
import { markdownTable } from './report/markdown.js';
import { bulk1 } from './workloads/bulk.js';
import { keepAliveWrk, newConnection } from './workloads/http.js';
import { which } from './workloads/tools.js';
import type { Measurement, Workload } from './workloads/types.js';

type Log = (line: string) => void;

const WORKLOADS: readonly Workload[] = [keepAliveWrk, newConnection, bulk1];

/** a proxy started for one profile, on fresh ports; stopped by the caller */
async function startFor(kind: ProxyKind, env: BenchEnvironment, dir: string): Promise<RunningProxy> {
  const [httpPort, bulkPort] = await freePorts(2);
  return kind.start({
    httpPort: httpPort!,
    bulkPort: bulkPort!,
    httpBackends: env.httpBackends,
    bulkBackend: env.bulkBackend,
    maxConnections: 1000,
    dir,
  });
}

function measuredText(m: Measurement): string {
  return Object.entries(m)
    .map(([k, v]) => `${k} ${Number.isFinite(v) ? +v.toPrecision(4) : '-'}`)
    .join(', ');
}

/** the unit a workload's system calls are counted per, and how many of them a window of `seconds` held */
function units(w: Workload, m: Measurement, seconds: number): { unit: string; count: number } {
  if (m['gbps'] !== undefined) return { unit: 'MB', count: ((m['gbps'] * 1e9) / 8 / 1e6) * seconds };
  if (m['cps'] !== undefined) return { unit: 'connection', count: m['cps'] * seconds };
  return { unit: w === keepAliveWrk ? 'request' : 'unit', count: (m['rps'] ?? NaN) * seconds };
}

async function v8Profiles(env: BenchEnvironment, root: string, durationS: number, log: Log): Promise<string[]> {
  const sections: string[] = [];
  for (const w of WORKLOADS) {
    const why = await w.unavailable();
    if (why) {
      sections.push(`### ${w.title}\n\nnot profiled: ${why}`);
      continue;
    }
    const dir = join(root, w.name);
    mkdirSync(dir);
    const proxy = await startFor(netmonKind({ cpuProfDir: dir }), env, dir);
    let measured = '';
    try {
      await new Promise((r) => setTimeout(r, 2500));
      measured = measuredText(
        await w.run(proxy, { durationS, idleConnections: 0, httpBackends: env.httpBackends, log }),
      );
      log(`profiled ${w.name}: ${measured}`);
    } finally {
      // the profiles are written when the daemon exits
      await proxy.stop();
    }
    sections.push(
      `### ${w.title}\n\nWhile profiled (the profiler itself costs some throughput): ${measured}.\n\n${profileReport(dir)}`,
    );
  }
  return sections;
}

interface PerfRow {
  proxy: string;
  profile: PerfProfile;
  unit: string;
  count: number;
}

/** netmon and HAProxy, one after the other, each under `w` with perf watching the middle of the run */
async function perfWorkload(env: BenchEnvironment, root: string, w: Workload, durationS: number, log: Log) {
  const rows: PerfRow[] = [];
  const kinds = [netmonKind({ perfMap: true })];
  if ((await haproxyKind.unavailable()) === undefined) kinds.push(haproxyKind);
  for (const kind of kinds) {
    const dir = join(root, `perf-${w.name}-${kind.name}`);
    mkdirSync(dir);
    const proxy = await startFor(kind, env, dir);
    try {
      await new Promise((r) => setTimeout(r, 2500));
      const window = Math.max(1, durationS - 2);
      const [m, profile] = await Promise.all([
        w.run(proxy, { durationS, idleConnections: 0, httpBackends: env.httpBackends, log }),
        new Promise((r) => setTimeout(r, 1000)).then(() => perfProfile(proxy.pid!, window, dir)),
      ]);
      log(`perf ${w.name} ${kind.name}: ${measuredText(m)}`);
      rows.push({ proxy: kind.name, profile, ...units(w, m, window) });
    } finally {
      await proxy.stop();
      rmSync(`/tmp/perf-${proxy.pid}.map`, { force: true });
    }
  }
  return rows;
}

function perfSection(w: Workload, rows: PerfRow[]): string {
  const pct = (x: number): string => (x >= 0.001 ? `${(x * 100).toFixed(1)}%` : '-');
  const areas = PERF_AREAS.filter((a) => rows.some((r) => r.profile.shares[a] >= 0.001));
  const shares = markdownTable(
    ['proxy', ...areas],
    rows.map((r) => [r.proxy, ...areas.map((a) => pct(r.profile.shares[a]))]),
  );
  const calls = new Map<string, number>();
  for (const r of rows) for (const [name, n] of r.profile.syscalls) calls.set(name, (calls.get(name) ?? 0) + n);
  const top = [...calls.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10)
    .map(([name]) => name);
  const per = (r: PerfRow, n: number): string => (r.count > 0 ? (n / r.count).toFixed(2) : '-');
  const total = (r: PerfRow): number => [...r.profile.syscalls.values()].reduce((a, b) => a + b, 0);
  const syscalls = markdownTable(
    ['proxy', `all, per ${rows[0]?.unit ?? 'unit'}`, ...top],
    rows.map((r) => [r.proxy, per(r, total(r)), ...top.map((name) => per(r, r.profile.syscalls.get(name) ?? 0))]),
  );
  return `### ${w.title}\n\nShare of CPU samples per binary:\n\n${shares}\n\nSystem calls per ${rows[0]?.unit ?? 'unit'} (the ten most made):\n\n${syscalls}`;
}

/**
 * Profile netmon under each main workload (durationS seconds each) and write
 * `out`/profile`suffix`.md. Needs the bench's backends (started here); the
 * perf part is left out, with the reason, where perf cannot run.
 */
export async function profileNetmon(out: string, suffix: string, durationS: number, log: Log): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'netmon-prof-'));
  log(`profiling netmon (node --cpu-prof, then perf) into ${root}`);
  const env = await startEnvironment({ backends: 3, iperf: (await which('iperf3')) !== undefined }, log);
  const v8: string[] = [];
  const perf: string[] = [];
  const noPerf = await perfUnavailable();
  try {
    v8.push(...(await v8Profiles(env, root, durationS, log)));
    if (noPerf === undefined) {
      for (const w of WORKLOADS) {
        const why = await w.unavailable();
        perf.push(
          why
            ? `### ${w.title}\n\nnot profiled: ${why}`
            : perfSection(w, await perfWorkload(env, root, w, durationS, log)),
        );
      }
    }
  } finally {
    await env.stop();
  }
  const md = [
    `## Where netmon's CPU goes${suffix ? ' (quick run)' : ''}`,
    '',
    '### Seen from the kernel: netmon and HAProxy under the same load',
    '',
    noPerf !== undefined
      ? `Not measured: ${noPerf}.`
      : [
          `\`perf record\` (499 Hz) and \`perf stat\` of each proxy's process, all threads, for ${Math.max(1, durationS - 2)} s in the middle of a ${durationS} s run`,
          '(one run each, netmon `workers = 1`, HAProxy `nbthread 1`). Shares are of the samples taken in the process:',
          'kernel (TCP, system calls, epoll), libc (system call wrappers), node (libuv, V8 runtime), relay (the native',
          "relay's C), javascript (JIT-compiled code), haproxy (HAProxy's own code). System calls are divided by the",
          "work done in the window at the run's rate.",
          '',
          perf.join('\n\n'),
        ].join('\n'),
    '',
    '### JavaScript: V8 CPU profiles',
    '',
    `V8 CPU profiles of the daemon (node --cpu-prof: the main thread and the worker thread), one daemon per workload, ${durationS}s each.`,
    'Self time per area of the code and the top functions; idle time left out. "native / V8" is time in C++ and',
    'system calls, including the native relay when it moves the bytes.',
    '',
    v8.join('\n\n'),
    '',
  ].join('\n');
  writeFileSync(join(out, `profile${suffix}.md`), md);
}
