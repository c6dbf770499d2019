// Whether this instance should receive new traffic: the answer routing tools
// poll (keepalived's track script, a BGP speaker's health hook) through the
// metrics port's /healthz and `netmon ctl show health`. It is about the whole
// instance, not one backend: unhealthy while the daemon is stopping (the lame-duck
// period first, so the route is withdrawn before the listeners close), when no
// listener is open, or when a pool marked `critical` has no backend that can take
// a connection.
import type { Config } from '../config/schema.js';
import { log } from '../log.js';
import type { Table } from '../state/table.js';

/** serving: normal; lame_duck: stopping, still accepting; draining: listeners closed, connections finishing */
export type ServicePhase = 'serving' | 'lame_duck' | 'draining';

/** Why an instance is unhealthy, as a stable word (for scripts) and a sentence (for people). */
export interface HealthReason {
  code: 'stopping' | 'no_listener' | 'critical_pool';
  message: string;
}

interface ListenerHealth {
  name: string;
  /** at least one worker has its socket open and the listener is enabled */
  open: boolean;
  /** false after `disable listener` */
  enabled: boolean;
}

interface CriticalPoolHealth {
  pool: string;
  /** backends that can take a new connection (up or starting, admin ready), backups included */
  up: number;
  total: number;
}

export interface HealthReport {
  healthy: boolean;
  phase: ServicePhase;
  /** empty when healthy */
  reasons: HealthReason[];
  listeners: ListenerHealth[];
  criticalPools: CriticalPoolHealth[];
  /** during the lame-duck period: ms left before the listeners close; otherwise 0 */
  lameDuckRemainingMs: number;
}

export interface HealthInput {
  phase: ServicePhase;
  lameDuckRemainingMs: number;
  listeners: readonly ListenerHealth[];
  criticalPools: readonly CriticalPoolHealth[];
}

/** The verdict over what the daemon knows; pure, so every rule is tested without a daemon. */
export function evaluateHealth(input: HealthInput): HealthReport {
  const reasons: HealthReason[] = [];
  if (input.phase === 'lame_duck') {
    reasons.push({
      code: 'stopping',
      message: `stopping: reporting unhealthy while still accepting; listeners close in ${Math.ceil(input.lameDuckRemainingMs)} ms`,
    });
  } else if (input.phase === 'draining') {
    reasons.push({ code: 'stopping', message: 'stopping: listeners closed, open connections finishing' });
  }
  if (!input.listeners.some((l) => l.open)) {
    const why =
      input.listeners.length === 0
        ? 'no listener is configured'
        : input.listeners.every((l) => !l.enabled)
          ? 'every listener is disabled'
          : 'no listener is open';
    reasons.push({ code: 'no_listener', message: why });
  }
  for (const p of input.criticalPools) {
    if (p.up === 0) {
      reasons.push({
        code: 'critical_pool',
        message: `critical pool ${p.pool} has no backend up (0 of ${p.total})`,
      });
    }
  }
  return {
    healthy: reasons.length === 0,
    phase: input.phase,
    reasons,
    listeners: input.listeners.map((l) => ({ ...l })),
    criticalPools: input.criticalPools.map((p) => ({ ...p })),
    lameDuckRemainingMs: input.phase === 'lame_duck' ? Math.max(0, Math.round(input.lameDuckRemainingMs)) : 0,
  };
}

/** What the daemon reads to build a HealthInput: the Topology satisfies it. */
export interface HealthSources {
  table: { listeners: Pick<Table['listeners'], 'enabled'>; backends: Pick<Table['backends'], 'eligible'> };
  listeners: { get(name: string): number | undefined };
  backends: { get(key: string): number | undefined };
  /** backends removed by a reload, still draining: they do not count */
  removed: { has(key: string): boolean };
}

/** The listeners and critical pools of `config` as the table and the workers see them now. */
export function observeHealth(
  config: Pick<Config, 'listeners' | 'pools'>,
  src: HealthSources,
  openListeners: ReadonlySet<string>,
): Pick<HealthInput, 'listeners' | 'criticalPools'> {
  const listeners = config.listeners.map((l) => {
    const slot = src.listeners.get(l.name);
    const enabled = slot !== undefined && src.table.listeners.enabled(slot);
    return { name: l.name, enabled, open: enabled && openListeners.has(l.name) };
  });
  const criticalPools = config.pools
    .filter((p) => p.critical)
    .map((p) => {
      let up = 0;
      for (const b of p.backends) {
        const slot = src.removed.has(b.key) ? undefined : src.backends.get(b.key);
        if (slot !== undefined && src.table.backends.eligible(slot)) up++;
      }
      return { pool: p.name, up, total: p.backends.length };
    });
  return { listeners, criticalPools };
}

/**
 * The one owner of the instance's stop phase: the Daemon tells it when a stop
 * begins and when the listeners close; it answers health reports over what
 * `observe` sees now, and logs each change of verdict once.
 */
export class InstanceHealth {
  private phase: ServicePhase = 'serving';
  private lameDuckEnds = 0;
  /** healthy, or the reason codes, last logged */
  private logged = 'healthy';

  constructor(
    private readonly observe: () => Pick<HealthInput, 'listeners' | 'criticalPools'>,
    private readonly now: () => number,
  ) {}

  report(): HealthReport {
    return evaluateHealth({
      phase: this.phase,
      lameDuckRemainingMs: this.lameDuckEnds - this.now(),
      ...this.observe(),
    });
  }

  /** A graceful stop begins: unhealthy for `ms` while the listeners still accept. */
  enterLameDuck(ms: number): void {
    this.phase = 'lame_duck';
    this.lameDuckEnds = this.now() + ms;
    this.logChange();
  }

  /** The listeners are closing: open connections finish. */
  enterDraining(): void {
    this.phase = 'draining';
  }

  /** Logs the verdict if it changed since the last call (the daemon's tick and the stop steps call it). */
  logChange(): void {
    const h = this.report();
    const key = h.healthy ? 'healthy' : h.reasons.map((r) => r.code).join(',');
    if (key === this.logged) return;
    this.logged = key;
    if (h.healthy) log.info('instance healthy again: routing tools may send traffic');
    else log.warn('instance unhealthy: /healthz answers 503', { reasons: h.reasons.map((r) => r.message) });
  }
}
