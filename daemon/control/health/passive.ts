// Passive ejection: workers see connect failures long before the next probe and
// report a backend once it reaches `passive.consecutive_failures` in a row; it is
// ejected (op state Down, cause passive) at once. A network blip seen by every
// worker must not empty a pool, so at most `max_ejected_share` of a pool's
// backends may be down by passive ejection; a refused ejection is logged and
// counted per backend (netmon_backend_passive_ejections_refused_total). Without
// an active check nothing would bring an ejected backend back, so it returns
// after a cool-down.
import { DEFAULT_PASSIVE } from '../../config/defaults.js';
import { log } from '../../log.js';
import { Cause, OpState } from '../../state/names.js';
import type { Table } from '../../state/table.js';
import type { ClearTimer, SetTimer } from './timers.js';
import type { StateWriter, Tracked } from './tracked.js';

/** Used when a backend entry carries no passive settings. */
const DEFAULT_MAX_EJECTED_SHARE = DEFAULT_PASSIVE.maxEjectedShare;
/** Without an active check nothing would bring an ejected backend back: it returns after this. */
export const DEFAULT_PASSIVE_COOLDOWN_MS = 10_000;

/** Whether one more backend of a pool of `poolSize` may be ejected. */
export function passiveEjectionAllowed(poolSize: number, ejected: number, maxEjectedShare: number): boolean {
  if (poolSize <= 0) return false;
  // tolerate float error: 0.3 * 10 backends must allow exactly 3
  return (ejected + 1) / poolSize <= maxEjectedShare + 1e-9;
}

/** What a worker's report did: ejected, refused by the pool's cap, or nothing to do. */
export type PassiveOutcome = 'ejected' | 'capped' | 'already_down' | 'unknown';

export interface PassiveEjectorOptions {
  table: Table;
  setTimer: SetTimer;
  clearTimer: ClearTimer;
  /** ms a passively ejected backend without an active check stays down */
  cooldownMs: number;
  writer: StateWriter;
}

export class PassiveEjector {
  ejections = 0;
  /** ejections refused by a pool's cap, in all and per pool name */
  capped = 0;
  readonly cappedByPool: Record<string, number> = {};

  constructor(private readonly o: PassiveEjectorOptions) {}

  /**
   * Ejects `rec` unless its pool's cap forbids it; `pool` lists every watched
   * backend (the cap counts those of rec's pool). The table's failure count is
   * reset either way, so a capped backend is reported again after as many more
   * failures.
   */
  report(rec: Tracked, pool: Iterable<Tracked>): PassiveOutcome {
    const slot = rec.e.slot;
    this.o.table.backends.resetConsecutiveFailures(slot);
    if (this.o.table.backends.opState(slot) === OpState.Down) return 'already_down';
    const name = rec.e.pool;
    const share = rec.e.passive?.maxEjectedShare ?? DEFAULT_MAX_EJECTED_SHARE;
    let size = 0;
    let ejected = 0;
    for (const r of pool) {
      if (r.e.pool !== name) continue;
      size++;
      if (r.passiveEjected) ejected++;
    }
    if (!passiveEjectionAllowed(size, ejected, share)) {
      rec.passiveRefused++;
      this.capped++;
      this.cappedByPool[name] = (this.cappedByPool[name] ?? 0) + 1;
      log.warn('passive ejection capped', {
        backend: rec.e.key,
        pool: name,
        ejected,
        poolSize: size,
        maxEjectedShare: share,
      });
      return 'capped';
    }
    const n = rec.e.passive?.consecutiveFailures;
    rec.passiveEjected = true;
    this.o.writer.setCount(rec, 0);
    this.ejections++;
    this.o.writer.transition(rec, OpState.Down, Cause.Passive, `${n ?? 'repeated'} consecutive connect failures`);
    if (rec.e.check.type === 'none') this.startCooldown(rec);
    return 'ejected';
  }

  startCooldown(rec: Tracked): void {
    this.clearCooldown(rec);
    rec.cooldown = this.o.setTimer(() => {
      rec.cooldown = null;
      if (rec.gone || this.o.writer.stopped || !rec.passiveEjected) return;
      const to = rec.e.slowStartMs > 0 ? OpState.Starting : OpState.Up;
      this.o.writer.transition(rec, to, Cause.Passive, `passive ejection cool-down (${this.o.cooldownMs} ms) elapsed`);
    }, this.o.cooldownMs);
  }

  clearCooldown(rec: Tracked): void {
    if (rec.cooldown === null) return;
    this.o.clearTimer(rec.cooldown);
    rec.cooldown = null;
  }
}
