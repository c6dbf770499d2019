// The built-in alert rules: each looks at one evaluation's inputs (plus, for the
// spike and distribution rules, what their trackers remember) and names the
// conditions that hold now. The engine turns conditions into pending / firing /
// resolved alerts; rules know nothing of time beyond the `now` they are given.
import { SpikeTracker } from './spike.js';
import { DistributionTracker } from './distribution.js';
import { FdTracker } from './fds.js';
import type { AlertsConfig } from '../../config/schema.js';
import type { AlertInputs } from './inputs.js';
import { round, type Condition } from './condition.js';
import { latencyP95Ms } from './latency.js';

export type { Condition } from './condition.js';

export class RuleSet {
  private readonly spike = new SpikeTracker();
  private readonly distribution = new DistributionTracker();
  private readonly fds = new FdTracker();

  evaluate(inputs: AlertInputs, cfg: AlertsConfig, now: number): Condition[] {
    const out: Condition[] = [];
    backendDown(inputs, out);
    if (cfg.latencyP95 > 0) highLatency(inputs, cfg.latencyP95, out);
    resources(inputs, cfg, out);
    this.fds.evaluate(inputs, out);
    discoveryFailed(inputs, out);
    this.spike.evaluate(inputs, cfg, now, out);
    this.distribution.evaluate(inputs, cfg, now, out);
    return out;
  }
}

function backendDown(inputs: AlertInputs, out: Condition[]): void {
  for (const b of inputs.backends) {
    // in maint the operator already took it out; a removed one is going away
    if (b.op !== 'down' || b.admin === 'maint' || b.removed) continue;
    out.push({
      name: 'backend_down',
      subject: b.key,
      severity: 'critical',
      value: 1,
      threshold: 0,
      message: `backend ${b.key} is down (${b.cause === 'passive' ? 'connections to it failing' : 'failing health checks'})`,
      immediate: true,
    });
  }
}

/**
 * A discovery source that cannot refresh: a warning while its last good set is
 * kept, critical once the hold time ran out and its backends were removed.
 */
function discoveryFailed(inputs: AlertInputs, out: Condition[]): void {
  for (const d of inputs.discovery ?? []) {
    if (d.state !== 'failing' && d.state !== 'expired') continue;
    const expired = d.state === 'expired';
    out.push({
      name: 'discovery_failed',
      subject: `${d.pool} ${d.source}`,
      severity: expired ? 'critical' : 'warning',
      value: d.backends,
      threshold: 0,
      message:
        `pool ${d.pool}: ${d.source} cannot refresh (${d.error ?? 'no answer'}); ` +
        (expired
          ? 'past its hold time, its backends were removed'
          : `its last good set (${d.backends} backends) is kept`),
    });
  }
}

function highLatency(inputs: AlertInputs, limitMs: number, out: Condition[]): void {
  for (const b of inputs.backends) {
    if (!b.latency || b.removed) continue;
    const p95 = latencyP95Ms(b.latency);
    if (p95 === null || p95 <= limitMs) continue;
    out.push({
      name: 'high_latency',
      subject: b.key,
      severity: 'warning',
      value: round(p95),
      threshold: limitMs,
      message: `backend ${b.key}: p95 connect + first byte ${round(p95)} ms > ${limitMs} ms`,
    });
  }
}

function resources(inputs: AlertInputs, cfg: AlertsConfig, out: Condition[]): void {
  const cpuPct = inputs.process.cpu * 100;
  if (cfg.cpuPercent > 0 && cpuPct > cfg.cpuPercent) {
    out.push({
      name: 'high_cpu',
      subject: 'daemon',
      severity: 'warning',
      value: round(cpuPct),
      threshold: cfg.cpuPercent,
      message: `netmon uses ${round(cpuPct)}% CPU (of one core) > ${cfg.cpuPercent}%`,
    });
  }
  if (cfg.memoryBytes > 0 && inputs.process.rssBytes > cfg.memoryBytes) {
    const mib = (n: number): string => `${Math.round(n / 1048576)} MiB`;
    out.push({
      name: 'high_memory',
      subject: 'daemon',
      severity: 'warning',
      value: inputs.process.rssBytes,
      threshold: cfg.memoryBytes,
      message: `netmon resident memory ${mib(inputs.process.rssBytes)} > ${mib(cfg.memoryBytes)}`,
    });
  }
  for (const b of inputs.backends) {
    if (b.removed) continue;
    if (cfg.agentCpuPercent > 0 && b.agentCpu !== null && b.agentCpu > cfg.agentCpuPercent) {
      out.push({
        name: 'high_cpu',
        subject: b.key,
        severity: 'warning',
        value: b.agentCpu,
        threshold: cfg.agentCpuPercent,
        message: `backend ${b.key} reports ${b.agentCpu}% CPU > ${cfg.agentCpuPercent}%`,
      });
    }
    if (cfg.agentMemoryPercent > 0 && b.agentMemory !== null && b.agentMemory > cfg.agentMemoryPercent) {
      out.push({
        name: 'high_memory',
        subject: b.key,
        severity: 'warning',
        value: b.agentMemory,
        threshold: cfg.agentMemoryPercent,
        message: `backend ${b.key} reports ${b.agentMemory}% memory > ${cfg.agentMemoryPercent}%`,
      });
    }
  }
}
