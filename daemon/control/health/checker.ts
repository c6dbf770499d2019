// The health state machine of the main thread: schedules active probes with
// jitter, applies rise/fall, ejects backends passively on workers' reports,
// hands recovered backends to slow start, and is the one place that changes a
// backend's operational state (the table's op state has this single writer).
import type { HealthCheck, PassiveHealth } from '../../config/schema.js';
import { log } from '../../log.js';
import {
  Cause,
  CAUSE_NAMES,
  CheckResult,
  OP_NAMES,
  OpState,
  type CauseName,
  type OpStateName,
} from '../../state/names.js';
import type { Table } from '../../state/table.js';
import { DEFAULT_PASSIVE_COOLDOWN_MS, passiveEjectionAllowed } from './passive.js';
import { runProbe } from './probe.js';
import { describeError } from './probe-guard.js';
import type { ActiveCheck, Probe, ProbeResult, ProbeTarget } from './probe-types.js';
import { riseFall } from './rise-fall.js';
import { SlowStart } from './slow-start.js';
import { defaultClearTimer, defaultSetTimer, type ClearTimer, type SetTimer, type TimerHandle } from './timers.js';

/** One backend as the checker needs it; main.ts builds these from the config. */
export interface HealthBackend {
  /** backend slot in the state table */
  slot: number;
  /** "pool/name" */
  key: string;
  /** pool name: passive ejection's cap counts the backends of one pool */
  pool: string;
  address: ProbeTarget;
  check: HealthCheck;
  /** ms; 0 = a recovered backend goes straight to Up */
  slowStartMs: number;
  /** the pool's passive settings; omitted = `DEFAULT_MAX_EJECTED_SHARE` */
  passive?: PassiveHealth;
  /** configured weight; when it differs from the previous setBackends, it replaces a run-time weight */
  weight?: number;
}

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
  /** pools without an active check: how long a passively ejected backend stays down */
  passiveCooldownMs?: number;
  /** how often slow-start weights are updated */
  slowStartTickMs?: number;
}

/** What reportConnectFailures did. */
export type PassiveOutcome = 'ejected' | 'capped' | 'already_down' | 'unknown';

export interface HealthCounters {
  probes: number;
  probeFailures: number;
  transitions: number;
  passiveEjections: number;
  /** ejections refused because the pool was at max_ejected_share */
  passiveCapped: number;
  passiveCappedByPool: Record<string, number>;
}

export interface BackendHealthStatus {
  key: string;
  checkType: HealthCheck['type'];
  /** the last probe's detail ("" before the first) */
  detail: string;
  /** signed rise/fall progress, as in the table */
  count: number;
  passiveEjected: boolean;
  /** 0..1 while ramping under slow start, else null */
  slowStart: number | null;
  probing: boolean;
}

/** Used when a backend entry carries no passive settings. */
export const DEFAULT_MAX_EJECTED_SHARE = 0.5;
/** The next probe comes interval ± this share, so probes of many backends do not march in step. */
export const INTERVAL_JITTER = 0.1;

interface Tracked {
  e: HealthBackend;
  count: number;
  timer: TimerHandle | null;
  inFlight: AbortController | null;
  probeStart: number;
  passiveEjected: boolean;
  cooldown: TimerHandle | null;
  detail: string;
  gone: boolean;
}

export class HealthChecker {
  private readonly table: Table;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly setTimer: SetTimer;
  private readonly clearTimer: ClearTimer;
  private readonly onTransition: (event: HealthTransition) => void;
  private readonly probe: Probe;
  private readonly cooldownMs: number;
  private readonly slow: SlowStart;
  private bySlot = new Map<number, Tracked>();
  private started = false;
  private stopped = false;
  private readonly stats: HealthCounters = {
    probes: 0,
    probeFailures: 0,
    transitions: 0,
    passiveEjections: 0,
    passiveCapped: 0,
    passiveCappedByPool: {},
  };

  constructor(opts: HealthCheckerOptions) {
    this.table = opts.table;
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.setTimer = opts.setTimer ?? defaultSetTimer;
    this.clearTimer = opts.clearTimer ?? defaultClearTimer;
    this.onTransition = opts.onTransition ?? (() => {});
    this.probe = opts.probe ?? runProbe;
    this.cooldownMs = opts.passiveCooldownMs ?? DEFAULT_PASSIVE_COOLDOWN_MS;
    this.slow = new SlowStart({
      table: this.table,
      now: this.now,
      setTimer: this.setTimer,
      clearTimer: this.clearTimer,
      tickMs: opts.slowStartTickMs,
      onComplete: (slot) => {
        const rec = this.bySlot.get(slot);
        if (rec) this.transition(rec, OpState.Up, Cause.SlowStart, 'slow start complete');
      },
    });
  }

  /**
   * The full set of backends to watch: at start and after every reload. A backend
   * that stays (same slot and key) with the same check and address keeps its
   * timer, counters and state; a changed check restarts probing (state kept,
   * rise/fall count reset); new backends start; removed ones stop.
   */
  setBackends(list: readonly HealthBackend[]): void {
    if (this.stopped) return;
    const cause = this.started ? Cause.Reload : Cause.Config;
    this.started = true;
    const incoming = new Map<number, HealthBackend>();
    for (const e of list) incoming.set(e.slot, e);

    for (const [slot, rec] of this.bySlot) {
      if (incoming.get(slot)?.key !== rec.e.key) {
        this.retire(rec);
        this.bySlot.delete(slot);
      }
    }
    for (const e of incoming.values()) {
      const old = this.bySlot.get(e.slot);
      if (old) this.update(old, e, cause);
      else this.adopt(e, cause);
    }
  }

  /**
   * A worker saw `passive.consecutive_failures` connect failures in a row on this
   * backend. Ejects it at once unless the pool's passive cap forbids it. The
   * table's failure count is reset either way, so a capped backend is reported
   * again after as many more failures.
   */
  reportConnectFailures(slot: number): PassiveOutcome {
    const rec = this.bySlot.get(slot);
    if (!rec || this.stopped) return 'unknown';
    this.table.backends.resetConsecutiveFailures(slot);
    if (this.table.backends.opState(slot) === OpState.Down) return 'already_down';
    const { pool } = rec.e;
    const share = rec.e.passive?.maxEjectedShare ?? DEFAULT_MAX_EJECTED_SHARE;
    let size = 0;
    let ejected = 0;
    for (const r of this.bySlot.values()) {
      if (r.e.pool !== pool) continue;
      size++;
      if (r.passiveEjected) ejected++;
    }
    if (!passiveEjectionAllowed(size, ejected, share)) {
      this.stats.passiveCapped++;
      this.stats.passiveCappedByPool[pool] = (this.stats.passiveCappedByPool[pool] ?? 0) + 1;
      log.warn('passive ejection capped', {
        backend: rec.e.key,
        pool,
        ejected,
        poolSize: size,
        maxEjectedShare: share,
      });
      return 'capped';
    }
    const n = rec.e.passive?.consecutiveFailures;
    rec.passiveEjected = true;
    this.setCount(rec, 0);
    this.stats.passiveEjections++;
    this.transition(rec, OpState.Down, Cause.Passive, `${n ?? 'repeated'} consecutive connect failures`);
    if (rec.e.check.type === 'none') this.startCooldown(rec);
    return 'ejected';
  }

  /** Change a backend's configured weight at run time (`set weight`); slow start stays consistent. */
  setConfiguredWeight(slot: number, weight: number): void {
    this.slow.setConfiguredWeight(slot, weight);
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
      slowStart: this.slow.progress(slot),
      probing: rec.inFlight !== null,
    };
  }

  /** The last probe's detail for `show backends` and snapshots ("" when none). */
  checkDetail(slot: number): string {
    return this.bySlot.get(slot)?.detail ?? '';
  }

  counters(): HealthCounters {
    return { ...this.stats, passiveCappedByPool: { ...this.stats.passiveCappedByPool } };
  }

  /** Stop every timer and abort probes in flight. The table keeps its last states. */
  stop(): void {
    this.stopped = true;
    for (const rec of this.bySlot.values()) this.retire(rec);
    this.bySlot.clear();
    this.slow.stop();
  }

  // ---- lifecycle of one backend -------------------------------------------------

  private adopt(e: HealthBackend, cause: Cause): void {
    const rec: Tracked = {
      e,
      count: 0,
      timer: null,
      inFlight: null,
      probeStart: 0,
      passiveEjected: false,
      cooldown: null,
      detail: '',
      gone: false,
    };
    this.bySlot.set(e.slot, rec);
    this.table.backends.setHealthCount(e.slot, 0);
    // initBackend zeroes the agent fields; NaN says "not reported", 0 would be a reading
    this.table.backends.recordAgent(e.slot, NaN, NaN, NaN);
    if (e.weight !== undefined && this.table.backends.weight(e.slot) !== e.weight)
      this.setConfiguredWeight(e.slot, e.weight);
    this.startCheck(rec, cause);
  }

  private update(rec: Tracked, e: HealthBackend, cause: Cause): void {
    const prev = rec.e;
    rec.e = e;
    if (e.slowStartMs !== prev.slowStartMs) this.slow.setDuration(e.slot, e.slowStartMs);
    if (e.weight !== undefined && e.weight !== prev.weight) this.setConfiguredWeight(e.slot, e.weight);
    if (
      sameCheck(prev.check, e.check) &&
      prev.address.host === e.address.host &&
      prev.address.port === e.address.port
    ) {
      return;
    }
    this.halt(rec);
    this.setCount(rec, 0);
    rec.detail = '';
    this.startCheck(rec, cause);
  }

  private retire(rec: Tracked): void {
    rec.gone = true;
    this.halt(rec);
    this.clearCooldown(rec);
    // the slot may already belong to a new backend: leave its weights alone
    this.slow.cancel(rec.e.slot, false);
  }

  private startCheck(rec: Tracked, cause: Cause): void {
    if (rec.e.check.type === 'none') {
      if (rec.passiveEjected) {
        if (rec.cooldown === null) this.startCooldown(rec);
      } else if (this.table.backends.opState(rec.e.slot) === OpState.Down) {
        this.transition(rec, OpState.Up, cause, 'no health check');
      }
      return;
    }
    // an active check brings a passively ejected backend back through rise
    this.clearCooldown(rec);
    // spread first probes over one interval so a reload does not probe every backend at once
    this.schedule(rec, this.random() * rec.e.check.interval);
  }

  private halt(rec: Tracked): void {
    if (rec.timer !== null) {
      this.clearTimer(rec.timer);
      rec.timer = null;
    }
    if (rec.inFlight) {
      const ac = rec.inFlight;
      rec.inFlight = null; // its result is ignored from here on
      ac.abort();
    }
  }

  // ---- active probes --------------------------------------------------------------

  private schedule(rec: Tracked, delay: number): void {
    rec.timer = this.setTimer(() => this.fire(rec), delay);
  }

  private fire(rec: Tracked): void {
    rec.timer = null;
    if (rec.gone || this.stopped || rec.e.check.type === 'none') return;
    const ac = new AbortController();
    rec.inFlight = ac;
    rec.probeStart = this.now();
    let p: Promise<ProbeResult>;
    try {
      p = this.probe(rec.e.address, rec.e.check as ActiveCheck, ac.signal);
    } catch (err) {
      p = Promise.resolve({ ok: false, durationMs: 0, detail: describeError(err) });
    }
    p.then(
      (r) => this.onResult(rec, ac, r),
      (err: unknown) => this.onResult(rec, ac, { ok: false, durationMs: 0, detail: describeError(err) }),
    );
  }

  private onResult(rec: Tracked, ac: AbortController, r: ProbeResult): void {
    if (rec.inFlight !== ac) return; // superseded by a check change, removal or stop
    rec.inFlight = null;
    const check = rec.e.check;
    if (rec.gone || this.stopped || check.type === 'none') return;
    const slot = rec.e.slot;
    const now = this.now();
    this.stats.probes++;
    if (!r.ok) this.stats.probeFailures++;
    rec.detail = r.detail;
    this.table.backends.recordCheck(slot, r.ok ? CheckResult.Ok : CheckResult.Failed, r.durationMs, now);
    // a backend that stops reporting must not keep showing its last figures
    this.table.backends.recordAgent(slot, r.agent?.cpu ?? NaN, r.agent?.memory ?? NaN, r.agent?.connections ?? NaN);
    if (!r.ok) log.debug('health probe failed', { backend: rec.e.key, check: check.type, detail: r.detail });

    const up = this.table.backends.opState(slot) !== OpState.Down;
    const step = riseFall(up, rec.count, r.ok, check.rise, check.fall);
    this.setCount(rec, step.count);
    if (step.flip) {
      if (up) this.transition(rec, OpState.Down, Cause.Health, r.detail);
      else this.transition(rec, rec.e.slowStartMs > 0 ? OpState.Starting : OpState.Up, Cause.Health, r.detail);
    }
    // a transition listener may have stopped us, or changed the check and rescheduled
    if (rec.gone || this.stopped || rec.timer !== null || rec.inFlight !== null) return;

    const interval = check.interval * (1 - INTERVAL_JITTER + 2 * INTERVAL_JITTER * this.random());
    // the period runs from probe start to probe start; a slow probe delays the next, never overlaps it
    const delay = Math.min(interval, Math.max(0, rec.probeStart + interval - now));
    this.schedule(rec, delay);
  }

  private setCount(rec: Tracked, n: number): void {
    rec.count = n;
    this.table.backends.setHealthCount(rec.e.slot, n);
  }

  // ---- passive cool-down ------------------------------------------------------------

  private startCooldown(rec: Tracked): void {
    this.clearCooldown(rec);
    rec.cooldown = this.setTimer(() => {
      rec.cooldown = null;
      if (rec.gone || this.stopped || !rec.passiveEjected) return;
      const to = rec.e.slowStartMs > 0 ? OpState.Starting : OpState.Up;
      this.transition(rec, to, Cause.Passive, `passive ejection cool-down (${this.cooldownMs} ms) elapsed`);
    }, this.cooldownMs);
  }

  private clearCooldown(rec: Tracked): void {
    if (rec.cooldown === null) return;
    this.clearTimer(rec.cooldown);
    rec.cooldown = null;
  }

  // ---- the one place op state changes ---------------------------------------------------

  private transition(rec: Tracked, to: OpState, cause: Cause, detail: string): void {
    const slot = rec.e.slot;
    const from = this.table.backends.opState(slot);
    const time = this.now();
    if (!this.table.backends.setOpState(slot, to, cause, time)) return;
    if (to === OpState.Starting) this.slow.begin(slot, rec.e.slowStartMs);
    else if (from === OpState.Starting) this.slow.cancel(slot);
    if (to !== OpState.Down) {
      rec.passiveEjected = false;
      this.clearCooldown(rec);
    }
    this.stats.transitions++;
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

/** Whether two checks probe the same way (RegExp compared by source and flags). */
export function sameCheck(a: HealthCheck, b: HealthCheck): boolean {
  if (a.type !== b.type) return false;
  if (a.type === 'none' || b.type === 'none') return true;
  if (a.interval !== b.interval || a.timeout !== b.timeout || a.rise !== b.rise || a.fall !== b.fall) return false;
  if (a.type === 'send_expect' && b.type === 'send_expect') return a.send === b.send && sameExpect(a.expect, b.expect);
  if (a.type === 'http' && b.type === 'http') {
    return a.path === b.path && a.expectStatus === b.expectStatus && a.host === b.host;
  }
  return true;
}

function sameExpect(a: string | RegExp, b: string | RegExp): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return a.source === b.source && a.flags === b.flags;
}
