// Slow start: a recovered backend's effective weight ramps from about 10% of its
// configured weight (at least 1) to 100% over `slowStartMs`, so a cold cache or
// JIT is not hit by its full share at once (HAProxy `slowstart`, nginx `slow_start`).
// Slow start is the one writer of a backend's effective weight (the table's
// configured weight has one writer too: the topology). When the configured
// weight changes, followWeight() brings the effective one along.
import type { Table } from '../../state/table.js';
import type { ClearTimer, SetTimer, TimerHandle } from './timers.js';

/** Where the ramp starts, as a share of the configured weight. */
const RAMP_FLOOR = 0.1;
const DEFAULT_SLOW_START_TICK_MS = 500;

/** Effective weight `fraction` (0..1) of the way through a ramp. */
export function rampWeight(weight: number, fraction: number): number {
  if (fraction >= 1) return weight;
  const f = RAMP_FLOOR + (1 - RAMP_FLOOR) * Math.max(0, fraction);
  return Math.max(1, Math.min(weight, Math.round(weight * f)));
}

export interface SlowStartOptions {
  table: Table;
  now: () => number;
  setTimer: SetTimer;
  clearTimer: ClearTimer;
  /** how often ramping weights are updated, ms */
  tickMs?: number;
  /** a ramp reached 100%: the caller moves the backend from Starting to Up */
  onComplete: (slot: number) => void;
}

interface Ramp {
  begin: number;
  durationMs: number;
}

export class SlowStart {
  private readonly o: SlowStartOptions;
  private readonly tickMs: number;
  private readonly ramps = new Map<number, Ramp>();
  private timer: TimerHandle | null = null;

  constructor(opts: SlowStartOptions) {
    this.o = opts;
    this.tickMs = opts.tickMs ?? DEFAULT_SLOW_START_TICK_MS;
  }

  /** Start (or restart) a ramp now; sets the first effective weight at once. */
  begin(slot: number, durationMs: number): void {
    this.ramps.set(slot, { begin: this.o.now(), durationMs });
    this.apply(slot);
    this.arm();
  }

  isRamping(slot: number): boolean {
    return this.ramps.has(slot);
  }

  /** Ramp progress 0..1, or null when the backend is not ramping. */
  progress(slot: number): number | null {
    const r = this.ramps.get(slot);
    return r ? this.fraction(r) : null;
  }

  /** Stop a ramp; `restore` puts the effective weight back to the configured one. */
  cancel(slot: number, restore = true): void {
    if (!this.ramps.delete(slot)) return;
    if (restore) this.o.table.backends.setEffectiveWeight(slot, this.o.table.backends.weight(slot));
    if (this.ramps.size === 0) this.disarm();
  }

  /** A reload changed slow_start: the ramp keeps its start and finishes on the new schedule. */
  setDuration(slot: number, durationMs: number): void {
    const r = this.ramps.get(slot);
    if (r) r.durationMs = durationMs;
  }

  /** The configured weight changed: the effective one follows (at the ramp's position while ramping). */
  followWeight(slot: number): void {
    const r = this.ramps.get(slot);
    const w = this.o.table.backends.weight(slot);
    this.o.table.backends.setEffectiveWeight(slot, r ? rampWeight(w, this.fraction(r)) : w);
  }

  stop(): void {
    this.ramps.clear();
    this.disarm();
  }

  private fraction(r: Ramp): number {
    if (r.durationMs <= 0) return 1;
    return Math.min(1, Math.max(0, (this.o.now() - r.begin) / r.durationMs));
  }

  private apply(slot: number): void {
    const r = this.ramps.get(slot);
    if (!r) return;
    this.o.table.backends.setEffectiveWeight(slot, rampWeight(this.o.table.backends.weight(slot), this.fraction(r)));
  }

  private arm(): void {
    if (this.timer !== null || this.ramps.size === 0) return;
    // wake at the next tick, or earlier when a ramp ends before it, so Up is on time
    let delay = this.tickMs;
    const now = this.o.now();
    for (const r of this.ramps.values()) delay = Math.min(delay, Math.max(0, r.begin + r.durationMs - now));
    this.timer = this.o.setTimer(() => this.tick(), delay);
  }

  private disarm(): void {
    if (this.timer === null) return;
    this.o.clearTimer(this.timer);
    this.timer = null;
  }

  private tick(): void {
    this.timer = null;
    const done: number[] = [];
    for (const [slot, r] of this.ramps) {
      if (this.fraction(r) >= 1) done.push(slot);
      else this.apply(slot);
    }
    for (const slot of done) {
      this.ramps.delete(slot);
      this.o.table.backends.setEffectiveWeight(slot, this.o.table.backends.weight(slot));
      this.o.onComplete(slot);
    }
    this.arm();
  }
}
