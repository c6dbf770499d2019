// Where a proxy's CPU goes, seen from the kernel: `perf record` of the whole
// process (every thread) while a workload runs, reduced to the share of samples
// per binary (the kernel, libc, Node, the native relay, JIT-compiled
// JavaScript, HAProxy's own code), and `perf stat` of its system calls, per unit
// of work. The same for netmon and HAProxy under the same load, so that the two
// can be read side by side; a V8 profile (profile.ts) sees only JavaScript,
// which is a few percent of the native relay's time.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { which } from './workloads/tools.js';

/** what the samples of one binary are called in the report */
export type PerfArea = 'kernel' | 'libc' | 'node' | 'relay' | 'javascript' | 'haproxy' | 'other';

export const PERF_AREAS: readonly PerfArea[] = ['kernel', 'libc', 'node', 'relay', 'javascript', 'haproxy', 'other'];

export interface PerfProfile {
  /** share of the process's samples (0..1) per area */
  shares: Record<PerfArea, number>;
  /** system calls made during the window, by name (sys_enter_NAME), all threads */
  syscalls: Map<string, number>;
  /** the window's length, seconds */
  seconds: number;
}

/** Why `perf` cannot profile here (not installed, or the kernel refuses), or undefined when it can. */
export async function perfUnavailable(): Promise<string | undefined> {
  if (!(await which('perf'))) return 'perf is not installed (Debian: linux-perf)';
  const probe = spawnSync('perf', ['stat', '-e', 'task-clock,syscalls:sys_enter_close', '--', 'true'], {
    encoding: 'utf8',
  });
  if (probe.status !== 0) return `perf cannot count here: ${probe.stderr.trim().split('\n')[0] ?? probe.status}`;
  return undefined;
}

/** the area a DSO name of `perf report --sort dso` belongs to */
export function areaOfDso(dso: string): PerfArea {
  if (dso.startsWith('[kernel') || dso === '[vdso]' || dso.startsWith('[unknown]')) return 'kernel';
  if (dso.startsWith('[JIT]') || dso.startsWith('perf-')) return 'javascript';
  if (/^lib(c|m|pthread)[.-]/.test(dso) || dso.startsWith('ld-linux')) return 'libc';
  if (dso === 'node' || dso.startsWith('libstdc++') || dso.startsWith('libgcc')) return 'node';
  if (dso.startsWith('netmon-relay')) return 'relay';
  if (dso === 'haproxy') return 'haproxy';
  return 'other';
}

/** `perf report --sort dso` text (lines "  82.18%  [kernel.kallsyms]") into shares per area */
export function sharesFromReport(text: string): Record<PerfArea, number> {
  const shares = Object.fromEntries(PERF_AREAS.map((a) => [a, 0])) as Record<PerfArea, number>;
  for (const line of text.split('\n')) {
    const m = /^\s*([\d.]+)%\s+(.+?)\s*$/.exec(line);
    if (!m) continue;
    shares[areaOfDso(m[2]!)] += Number(m[1]) / 100;
  }
  return shares;
}

/** `perf stat -x,` lines ("158100,,syscalls:sys_enter_recvfrom,...") into counts by call name */
export function syscallsFromStat(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [value, , event] = line.split(',');
    const m = /^syscalls:sys_enter_(\w+)$/.exec(event ?? '');
    const n = Number(value);
    if (m && Number.isFinite(n) && n > 0) counts.set(m[1]!, n);
  }
  return counts;
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args[0]}: ${err.trim() || code}`))));
  });
}

/**
 * Profile process `pid` (all its threads) for `seconds` (bounded: perf ends
 * with its `sleep`): samples at 499 Hz into `dir`/perf.data and the count of
 * every system call. Rejects when perf fails.
 */
export async function perfProfile(pid: number, seconds: number, dir: string): Promise<PerfProfile> {
  const data = `${dir}/perf.data`;
  const stat = `${dir}/syscalls.csv`;
  const window = ['--', 'sleep', String(seconds)];
  await Promise.all([
    run('perf', ['record', '-q', '-F', '499', '-p', String(pid), '-o', data, ...window]),
    run('perf', ['stat', '-x,', '-o', stat, '-e', 'syscalls:sys_enter_*', '-p', String(pid), ...window]),
  ]);
  const report = spawnSync(
    'perf',
    ['report', '-i', data, '--sort', 'dso', '--stdio', '--no-children', '-g', 'none', '-q'],
    { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
  );
  if (report.status !== 0) throw new Error(`perf report: ${report.stderr.trim()}`);
  return { shares: sharesFromReport(report.stdout), syscalls: syscallsFromStat(readFileSync(stat, 'utf8')), seconds };
}
