// A checker on a fake clock with a scripted probe: each probe call is recorded and
// answered from a queue of results (or held open until the test releases it).
import {
  HealthChecker,
  type HealthCheckerOptions,
  type HealthTransition,
} from '../../daemon/control/health/checker.js';
import type { HealthBackend } from '../../daemon/control/health/tracked.js';
import type { ActiveCheck, ProbeResult, ProbeTarget } from '../../daemon/control/health/probe-types.js';
import type { HealthCheck } from '../../daemon/config/schema.js';
import { OpState } from '../../daemon/state/names.js';
import { Table } from '../../daemon/state/table.js';
import { FakeClock } from './fake-clock.js';
import { setLogSink } from '../../daemon/log.js';

// transitions log on every test; tests that check log lines install their own sink
export const silence = (): void => setLogSink(() => {});
silence();

export interface ProbeCall {
  slot: number;
  time: number;
  check: ActiveCheck;
  signal: AbortSignal;
  resolve(r: ProbeResult): void;
}

export const ok: ProbeResult = { ok: true, durationMs: 1, detail: 'HTTP 200' };
export const fail: ProbeResult = { ok: false, durationMs: 1, detail: 'connection refused (ECONNREFUSED)' };

export function tcpCheck(over: Partial<Extract<HealthCheck, { type: 'tcp' }>> = {}): HealthCheck {
  return { type: 'tcp', interval: 1000, timeout: 500, rise: 2, fall: 3, ...over };
}

export class Harness {
  readonly clock = new FakeClock();
  readonly table = new Table({ workers: 1, listeners: 1, pools: 2, backends: 16 });
  readonly events: HealthTransition[] = [];
  readonly calls: ProbeCall[] = [];
  /** per slot: results to answer with, in order; empty = `fallback` */
  readonly script = new Map<number, ProbeResult[]>();
  fallback: ProbeResult | 'hold' = ok;
  randoms: number[] = [];
  readonly checker: HealthChecker;

  constructor(opts: Partial<HealthCheckerOptions> = {}) {
    this.table.pools.init(0, 0);
    this.table.pools.init(1, 0);
    this.checker = new HealthChecker({
      table: this.table,
      now: this.clock.now,
      random: () => (this.randoms.length ? this.randoms.shift()! : 0.5),
      setTimer: this.clock.setTimer,
      clearTimer: this.clock.clearTimer,
      onTransition: (e) => this.events.push(e),
      probe: (target, check, signal) => this.probe(target, check, signal!),
      ...opts,
    });
  }

  private slotOf(target: ProbeTarget): number {
    return target.port - 10000;
  }

  private probe(target: ProbeTarget, check: ActiveCheck, signal: AbortSignal): Promise<ProbeResult> {
    const slot = this.slotOf(target);
    return new Promise<ProbeResult>((resolve) => {
      this.calls.push({ slot, time: this.clock.now(), check, signal, resolve });
      const queued = this.script.get(slot)?.shift();
      const r = queued ?? this.fallback;
      if (r !== 'hold') resolve(r);
    });
  }

  /** Claim a table slot the way the topology does, and describe it for watch(). */
  backend(slot: number, over: Partial<HealthBackend> = {}, op: OpState = OpState.Up, weight = 10): HealthBackend {
    const pool = over.pool === 'other' ? 1 : 0;
    this.table.backends.init(
      slot,
      { pool, weight, maxConnections: 0, backup: false, generation: 1, op },
      this.clock.now(),
    );
    return {
      slot,
      key: `${over.pool ?? 'web'}/b${slot}`,
      pool: 'web',
      address: { host: '127.0.0.1', port: 10000 + slot },
      check: tcpCheck(),
      slowStartMs: 0,
      ...over,
    };
  }

  /** Watch backends, as a config applied at start does. */
  watch(...entries: HealthBackend[]): void {
    for (const e of entries) this.checker.watch(e);
  }

  answer(slot: number, ...results: ProbeResult[]): void {
    const q = this.script.get(slot) ?? [];
    q.push(...results);
    this.script.set(slot, q);
  }

  callsOf(slot: number): ProbeCall[] {
    return this.calls.filter((c) => c.slot === slot);
  }
}
