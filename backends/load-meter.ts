// CPU and memory figures for the /health agent data. CPU is sampled for the whole
// process once a second; when several simulated backends share a process, each one
// is attributed a share in proportion to the time its handlers were busy (plus a
// small per-request cost for the I/O Node does on its behalf).
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';

/** a rough per-request cost of HTTP parsing and socket I/O, in ms */
const PER_REQUEST_MS = 0.03;

export interface LoadSource {
  /** ms of handler time since the last call; resets the count */
  takeBusy(): { busyMs: number; requests: number };
  /** set by the meter after each sample */
  attributedCpu: number;
}

const sources = new Set<LoadSource>();
let timer: NodeJS.Timeout | undefined;
let lastCpu = process.cpuUsage();
let lastWall = performance.now();
let processCpuPercent = 0;

function sample(): void {
  const cpu = process.cpuUsage();
  const wall = performance.now();
  const usedMs = (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000;
  const wallMs = wall - lastWall;
  lastCpu = cpu;
  lastWall = wall;
  processCpuPercent = wallMs > 0 ? clampPercent((usedMs / wallMs) * 100) : 0;
  const weights = new Map<LoadSource, number>();
  let total = 0;
  for (const s of sources) {
    const { busyMs, requests } = s.takeBusy();
    const w = busyMs + requests * PER_REQUEST_MS;
    weights.set(s, w);
    total += w;
  }
  for (const [s, w] of weights) {
    s.attributedCpu = sources.size === 1 ? processCpuPercent : total > 0 ? (processCpuPercent * w) / total : 0;
  }
}

function clampPercent(v: number): number {
  return Math.min(100, Math.max(0, v));
}

export function registerLoadSource(s: LoadSource): void {
  sources.add(s);
  if (!timer) {
    lastCpu = process.cpuUsage();
    lastWall = performance.now();
    timer = setInterval(sample, 1000);
    timer.unref();
  }
}

export function unregisterLoadSource(s: LoadSource): void {
  sources.delete(s);
  if (sources.size === 0 && timer) {
    clearInterval(timer);
    timer = undefined;
  }
}

let memoryLimit: number | undefined;

/** The cgroup memory limit when there is one below host memory, else host memory. */
function memoryLimitBytes(): number {
  if (memoryLimit !== undefined) return memoryLimit;
  const host = totalmem();
  memoryLimit = host;
  for (const file of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    try {
      const n = Number(readFileSync(file, 'utf8').trim());
      if (Number.isFinite(n) && n > 0 && n < host) memoryLimit = n;
      break;
    } catch {
      // no such cgroup file: try the next layout
    }
  }
  return memoryLimit;
}

/** resident memory as a percent of the limit */
export function memoryPercent(): number {
  return clampPercent((process.memoryUsage.rss() / memoryLimitBytes()) * 100);
}
