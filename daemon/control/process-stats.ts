// The daemon process's own CPU, memory, file descriptors and main-thread
// event-loop lag, sampled once a second for the snapshot, alerts and metrics.
import { LoopLag } from '../loop-lag.js';
import { fdLimit, openFds } from '../process-fds.js';
import type { ProcessSnapshot } from './snapshot/snapshot.js';

/** What ProcessStats measures itself (the health checker counts probes without descriptors). */
type Sampled = Omit<ProcessSnapshot, 'probesWithoutFds'>;

export class ProcessStats {
  private lastCpu = process.cpuUsage();
  private lastTime = performance.now();
  private readonly lag = new LoopLag();
  private maxFds = fdLimit();
  private current: Sampled = { cpu: 0, rssBytes: 0, heapUsedBytes: 0, loopLagMs: 0, openFds: -1, maxFds: null };

  sample(): void {
    const cpu = process.cpuUsage();
    const now = performance.now();
    const used = (cpu.user - this.lastCpu.user + cpu.system - this.lastCpu.system) / 1000; // ms
    const cores = used / Math.max(1, now - this.lastTime);
    this.lastCpu = cpu;
    this.lastTime = now;
    const mem = process.memoryUsage();
    // the limit can be raised while running (prlimit); at the limit itself it cannot be read: kept
    this.maxFds = fdLimit(this.maxFds);
    this.current = {
      cpu: Math.round(cores * 1000) / 1000,
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      loopLagMs: Math.round(this.lag.read() * 1000) / 1000,
      openFds: openFds(),
      maxFds: Number.isFinite(this.maxFds) ? this.maxFds : null,
    };
  }

  get snapshot(): Sampled {
    return this.current;
  }

  stop(): void {
    this.lag.stop();
  }
}
