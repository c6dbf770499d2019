// The health state machine of the main thread: keeps the watched backends in
// step with the config (watch / unwatch, from each reload's diff), runs their active probes (active-prober.ts)
// and passive ejections (passive.ts), hands recovered backends to slow start, and
// is the one place that changes a backend's operational state (the table's op
// state has this single writer).
import { log } from '../../log.js';
import { Cause, CAUSE_NAMES, OP_NAMES, OpState } from '../../state/names.js';
import type { Table } from '../../state/table.js';
import { ActiveProber } from './active-prober.js';
import { DEFAULT_PASSIVE_COOLDOWN_MS, PassiveEjector, type PassiveOutcome } from './passive.js';
import { runProbe } from './probe.js';
import type { Probe } from './probe-types.js';
import { sameCheck } from './same-check.js';
import { SlowStart } from './slow-start.js';
import { defaultClearTimer, defaultSetTimer, type ClearTimer, type SetTimer } from './timers.js';
import { tracked, type HealthBackend, type StateWriter, type Tracked } from './tracked.js';

type OpStateName = (typeof OP_NAMES)[number];
type CauseName = (typeof CAUSE_NAMES)[number];

export interface HealthTransition {
  key: string;
  slot: number;
  pool: string;
  from: OpStateName;
  to: OpStateName;
  cause: CauseName;
  detail: string;
  /** now() when it happened */
  time: number;
}

export interface HealthCheckerOptions {
  table: Table;
  /** ms since epoch (written to the table as the last change time); default Date.now */
  now?: () => number;
  /** [0,1); default Math.random */
  random?: () => number;
  setTimer?: SetTimer;
  clearTimer?: ClearTimer;
  onTransition?: (event: HealthTransition) => void;
  /** default: the real probes (probe.ts) */
  probe?: Probe;
  /** pools without an active check: how long a passively ejected backend stays down, ms */
  passiveCooldownMs?: number;
  /** how often slow-start weights are updated, ms */
  slowStartTickMs?: number;
}

export interface HealthCounters {
  probes: number;
  probeFailures: number;
  /** probes not made for want of file descriptors (EMFILE/ENFILE); not in `probes` */
  probesWithoutFds: number;
  transitions: number;
  passiveEjections: number;
  /** ejections refused because the pool was at max_ejected_share */
  passiveCapped: number;
  passiveCappedByPool: Record<string, number>;
}

export interface BackendHealthStatus {
  key: string;
  checkType: HealthBackend['check']['type'];
  /** the last probe's detail ("" before the first) */
  detail: string;
  /** signed rise/fall progress, as in the table */
  count: number;
  passiveEjected: boolean;
  /** passive ejections the pool's max_ejected_share refused since the backend was added */
  passiveEjectionsRefused: number;
  /** 0..1 while ramping under slow start, else null */
  slowStart: number | null;
  probing: boolean;
}

export class HealthChecker implements StateWriter {
  private readonly table: Table;
  private readonly now: () => number;
  private readonly onTransition: (event: HealthTransition) => void;
  private readonly slow: SlowStart;
  private readonly prober: ActiveProber;
  private readonly passive: PassiveEjector;
  private readonly bySlot = new Map<number, Tracked>();
  private transitions = 0;
  private halted = false;

  constructor(opts: HealthCheckerOptions) {
    this.table = opts.table;
    this.now = opts.now ?? Date.now;
    this.onTransition = opts.onTransition ?? (() => {});
    const setTimer = opts.setTimer ?? defaultSetTimer;
    const clearTimer = opts.clearTimer ?? defaultClearTimer;
    this.prober = new ActiveProber({
      table: this.table,
      now: this.now,
      random: opts.random ?? Math.random,
      setTimer,
      clearTimer,
      probe: opts.probe ?? runProbe,
      writer: this,
    });
    this.passive = new PassiveEjector({
      table: this.table,
      setTimer,
      clearTimer,
      cooldownMs: opts.passiveCooldownMs ?? DEFAULT_PASSIVE_COOLDOWN_MS,
      writer: this,
    });
    this.slow = new SlowStart({
      table: this.table,
      now: this.now,
      setTimer,
      clearTimer,
      tickMs: opts.slowStartTickMs,
      onComplete: (slot) => {
        const rec = this.bySlot.get(slot);
        if (rec) this.transition(rec, OpState.Up, Cause.SlowStart, 'slow start complete');
      },
    });
  }

  /**
   * Start watching a backend, or take its new settings (a reload's share for
   * health: service.ts applies the diff through here). A backend that stays
   * (same slot and key) with the same check and address keeps its timer,
   * counters and state; a changed check restarts probing (state kept,
   * rise/fall count reset). `cause`: why a check of type none brings a down
   * backend up (config at start, reload after).
   */
  watch(e: HealthBackend, cause: Cause = Cause.Config): void {
    if (this.stopped) return;
    const old = this.bySlot.get(e.slot);
    if (old && old.e.key === e.key) return this.update(old, e, cause);
    // the slot was given to another backend: the old one's checks stop
    if (old) this.unwatch(e.slot);
    this.adopt(e, cause);
  }

  /** Stop watching a backend (removed by a reload): its timers stop and a probe in flight is aborted. */
  unwatch(slot: number): void {
    const rec = this.bySlot.get(slot);
    if (!rec) return;
    this.retire(rec);
    this.bySlot.delete(slot);
  }

  /**
   * A worker saw `passive.consecutive_failures` connect failures in a row on this
   * backend: eject it at once unless the pool's passive cap forbids it (passive.ts).
   */
  reportConnectFailures(slot: number): PassiveOutcome {
    const rec = this.bySlot.get(slot);
    if (!rec || this.stopped) return 'unknown';
    return this.passive.report(rec, this.bySlot.values());
  }

  /**
   * A backend added at run time (a reload, a discovery source) ramps up under
   * slow start when its pool has one, as a recovered backend does; one added
   * at start does not (nothing was sent to it before either way).
   */
  rampUp(slot: number, cause: Cause): void {
    const rec = this.bySlot.get(slot);
    if (!rec || this.stopped || rec.e.slowStartMs <= 0) return;
    if (this.table.backends.opState(slot) !== OpState.Up) return;
    this.transition(rec, OpState.Starting, cause, 'added: slow start');
  }

  /**
   * A backend's configured weight changed (a reload, `set weight`): its
   * effective weight follows, at the ramp's position when it is slow-starting.
   */
  weightChanged(slot: number): void {
    this.slow.followWeight(slot);
  }

  status(slot: number): BackendHealthStatus | undefined {
    const rec = this.bySlot.get(slot);
    if (!rec) return undefined;
    return {
      key: rec.e.key,
      checkType: rec.e.check.type,
      detail: rec.detail,
      count: rec.count,
      passiveEjected: rec.passiveEjected,
      passiveEjectionsRefused: rec.passiveRefused,
      slowStart: this.slow.progress(slot),
      probing: rec.inFlight !== null,
    };
  }

  /** The last probe's detail for `show backends` and snapshots ("" when none). */
  checkDetail(slot: number): string {
    return this.bySlot.get(slot)?.detail ?? '';
  }

  /** Passive ejections the pool's cap refused for the backend in this slot (0 when not watched). */
  passiveEjectionsRefused(slot: number): number {
    return this.bySlot.get(slot)?.passiveRefused ?? 0;
  }

  counters(): HealthCounters {
    return {
      probes: this.prober.probes,
      probeFailures: this.prober.probeFailures,
      probesWithoutFds: this.prober.localFailures,
      transitions: this.transitions,
      passiveEjections: this.passive.ejections,
      passiveCapped: this.passive.capped,
      passiveCappedByPool: { ...this.passive.cappedByPool },
    };
  }

  /** stop() was called: no probe starts and no state changes after it */
  get stopped(): boolean {
    return this.halted;
  }

  /** Stop every timer and abort probes in flight. The table keeps its last states. */
  stop(): void {
    this.halted = true;
    for (const rec of this.bySlot.values()) this.retire(rec);
    this.bySlot.clear();
    this.slow.stop();
  }

  // ---- lifecycle of one backend -------------------------------------------------

  private adopt(e: HealthBackend, cause: Cause): void {
    const rec = tracked(e);
    this.bySlot.set(e.slot, rec);
    this.table.backends.setHealthCount(e.slot, 0);
    // initBackend zeroes the agent fields; NaN says "not reported", 0 would be a reading
    this.table.backends.recordAgent(e.slot, NaN, NaN, NaN);
    this.startCheck(rec, cause);
  }

  private update(rec: Tracked, e: HealthBackend, cause: Cause): void {
    const prev = rec.e;
    rec.e = e;
    if (e.slowStartMs !== prev.slowStartMs) this.slow.setDuration(e.slot, e.slowStartMs);
    if (
      sameCheck(prev.check, e.check) &&
      prev.address.host === e.address.host &&
      prev.address.port === e.address.port &&
      prev.address.name === e.address.name
    ) {
      return;
    }
    this.prober.halt(rec);
    this.setCount(rec, 0);
    rec.detail = '';
    this.startCheck(rec, cause);
  }

  private retire(rec: Tracked): void {
    rec.gone = true;
    this.prober.halt(rec);
    this.passive.clearCooldown(rec);
    // the slot may already belong to a new backend: leave its weights alone
    this.slow.cancel(rec.e.slot, false);
  }

  private startCheck(rec: Tracked, cause: Cause): void {
    if (rec.e.check.type === 'none') {
      if (rec.passiveEjected) {
        if (rec.cooldown === null) this.passive.startCooldown(rec);
      } else if (this.table.backends.opState(rec.e.slot) === OpState.Down) {
        this.transition(rec, OpState.Up, cause, 'no health check');
      }
      return;
    }
    // an active check brings a passively ejected backend back through rise
    this.passive.clearCooldown(rec);
    this.prober.start(rec);
  }

  // ---- the one place op state changes ---------------------------------------------------

  setCount(rec: Tracked, n: number): void {
    rec.count = n;
    this.table.backends.setHealthCount(rec.e.slot, n);
  }

  transition(rec: Tracked, to: OpState, cause: Cause, detail: string): void {
    const slot = rec.e.slot;
    const from = this.table.backends.opState(slot);
    const time = this.now();
    if (!this.table.backends.setOpState(slot, to, cause, time)) return;
    if (to === OpState.Starting) this.slow.begin(slot, rec.e.slowStartMs);
    else if (from === OpState.Starting) this.slow.cancel(slot);
    if (to !== OpState.Down) {
      rec.passiveEjected = false;
      this.passive.clearCooldown(rec);
    }
    this.transitions++;
    const event: HealthTransition = {
      key: rec.e.key,
      slot,
      pool: rec.e.pool,
      from: OP_NAMES[from],
      to: OP_NAMES[to],
      cause: CAUSE_NAMES[cause],
      detail,
      time,
    };
    const fields = { backend: event.key, pool: event.pool, from: event.from, to: event.to, cause: event.cause, detail };
    if (to === OpState.Down) log.warn('backend state', fields);
    else log.info('backend state', fields);
    try {
      this.onTransition(event);
    } catch (err) {
      log.error('health transition listener failed', { backend: event.key, err });
    }
  }
}
