// The daemon process's own CPU, memory and main-thread event-loop lag, sampled
// once a second for the snapshot, alerts and metrics.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { ProcessSnapshot } from './snapshot/snapshot.js';

export class ProcessStats {
  private lastCpu = process.cpuUsage();
  private lastTime = performance.now();
  private readonly lag = monitorEventLoopDelay({ resolution: 20 });
  private current: ProcessSnapshot = { cpu: 0, rssBytes: 0, heapUsedBytes: 0, loopLagMs: 0 };

  constructor() {
    this.lag.enable();
  }

  sample(): void {
    const cpu = process.cpuUsage();
    const now = performance.now();
    const used = (cpu.user - this.lastCpu.user + cpu.system - this.lastCpu.system) / 1000; // ms
    const cores = used / Math.max(1, now - this.lastTime);
    this.lastCpu = cpu;
    this.lastTime = now;
    const mem = process.memoryUsage();
    this.current = {
      cpu: Math.round(cores * 1000) / 1000,
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      loopLagMs: Math.round((this.lag.mean / 1e6 || 0) * 1000) / 1000,
    };
    this.lag.reset();
  }

  get snapshot(): ProcessSnapshot {
    return this.current;
  }

  stop(): void {
    this.lag.disable();
  }
}
