// Backend slots: state (admin, operational, cause), weights, connection slots
// against max_connections, passive failure count, measured times, and health
// check and agent results. States, weights and check results have one writer,
// the main thread; workers take and give back connection slots and feed the EWMAs.
import type { BackendStatsView } from './backend-stats.js';
import { type Layout } from './layout.js';
import { BackendF64, BackendI32, BackendStripe } from './fields.js';
import { AdminState, Cause, CheckResult, OpState } from './names.js';
import type { PoolsView } from './pools.js';

/** A new backend's slot as initBackend() writes it. */
export interface BackendInit {
  /** pool slot */
  pool: number;
  /** configured weight, also the effective weight until slow start changes it */
  weight: number;
  /** 0 = no limit */
  maxConnections: number;
  backup: boolean;
  /** config generation that added it */
  generation: number;
  op: OpState;
}

export class BackendsView {
  constructor(
    private readonly i32: Int32Array,
    private readonly f64: Float64Array,
    private readonly at: Layout,
    private readonly pools: PoolsView,
    private readonly stats: BackendStatsView,
  ) {}

  // ---- slot and state (main thread writes) ---------------------------------------
  /**
   * Claim a slot for a new backend: counters zeroed, state as given, changed at
   * `now` (ms since epoch), both weights at `opts.weight` (from here on the
   * configured weight is the topology's to write, the effective one slow
   * start's). Main thread only.
   */
  init(i: number, opts: BackendInit, now: number): void {
    const b = this.at.backend(i);
    const f = this.at.backendF64(i);
    this.i32.fill(0, b, b + BackendI32.Size);
    this.f64.fill(0, f, f + BackendF64.Size);
    this.stats.reset(i);
    this.i32[b + BackendI32.Pool] = opts.pool;
    this.i32[b + BackendI32.Weight] = opts.weight;
    this.i32[b + BackendI32.EffectiveWeight] = opts.weight;
    this.i32[b + BackendI32.MaxConnections] = opts.maxConnections;
    this.i32[b + BackendI32.Backup] = opts.backup ? 1 : 0;
    this.i32[b + BackendI32.Generation] = opts.generation;
    this.i32[b + BackendI32.Op] = opts.op;
    this.i32[b + BackendI32.Cause] = Cause.Config;
    this.f64[f + BackendF64.LastChange] = now;
    this.recordAgent(i, NaN, NaN, NaN); // nothing reported yet
    Atomics.store(this.i32, b + BackendI32.InUse, 1);
  }
  free(i: number): void {
    Atomics.store(this.i32, this.at.backend(i) + BackendI32.InUse, 0);
  }
  inUse(i: number): boolean {
    return Atomics.load(this.i32, this.at.backend(i) + BackendI32.InUse) === 1;
  }
  /** The pool slot the backend belongs to. */
  pool(i: number): number {
    return Atomics.load(this.i32, this.at.backend(i) + BackendI32.Pool);
  }
  /** The config generation that last confirmed the backend. */
  generation(i: number): number {
    return Atomics.load(this.i32, this.at.backend(i) + BackendI32.Generation);
  }
  setGeneration(i: number, g: number): void {
    Atomics.store(this.i32, this.at.backend(i) + BackendI32.Generation, g);
  }
  adminState(i: number): AdminState {
    return Atomics.load(this.i32, this.at.backend(i) + BackendI32.Admin) as AdminState;
  }
  opState(i: number): OpState {
    return Atomics.load(this.i32, this.at.backend(i) + BackendI32.Op) as OpState;
  }
  lastCause(i: number): Cause {
    return Atomics.load(this.i32, this.at.backend(i) + BackendI32.Cause) as Cause;
  }
  /** ms since epoch of the last state change */
  lastChange(i: number): number {
    return this.f64[this.at.backendF64(i) + BackendF64.LastChange]!;
  }
  /** Main thread only; `now` in ms since epoch. Returns whether anything changed. */
  setAdminState(i: number, s: AdminState, cause: Cause, now: number): boolean {
    const b = this.at.backend(i);
    if (Atomics.exchange(this.i32, b + BackendI32.Admin, s) === s) return false;
    Atomics.store(this.i32, b + BackendI32.Cause, cause);
    this.f64[this.at.backendF64(i) + BackendF64.LastChange] = now;
    this.pools.bumpVersion(this.pool(i));
    return true;
  }
  /** Main thread only; `now` in ms since epoch. Returns whether anything changed. */
  setOpState(i: number, s: OpState, cause: Cause, now: number): boolean {
    const b = this.at.backend(i);
    const f = this.at.backendF64(i);
    if (Atomics.exchange(this.i32, b + BackendI32.Op, s) === s) return false;
    Atomics.store(this.i32, b + BackendI32.Cause, cause);
    this.f64[f + BackendF64.LastChange] = now;
    if (s === OpState.Starting) this.f64[f + BackendF64.SlowStartBegin] = now;
    this.pools.bumpVersion(this.pool(i));
    return true;
  }
  /** ms since epoch at which the backend last became Starting */
  slowStartBegin(i: number): number {
    return this.f64[this.at.backendF64(i) + BackendF64.SlowStartBegin]!;
  }
  /** Signed progress toward rise (>0) or fall (<0); kept by the health module. */
  healthCount(i: number): number {
    return Atomics.load(this.i32, this.at.backend(i) + BackendI32.HealthCount);
  }
  setHealthCount(i: number, n: number): void {
    Atomics.store(this.i32, this.at.backend(i) + BackendI32.HealthCount, n);
  }
  /** Configured weight. */
  weight(i: number): number {
    return Atomics.load(this.i32, this.at.backend(i) + BackendI32.Weight);
  }
  /** Weight the pickers use: the configured weight, ramped under slow start. */
  effectiveWeight(i: number): number {
    return Atomics.load(this.i32, this.at.backend(i) + BackendI32.EffectiveWeight);
  }
  /** The weight the config (or `set weight`) gives the backend. Main thread only: the topology writes it. */
  setConfiguredWeight(i: number, weight: number): void {
    if (Atomics.exchange(this.i32, this.at.backend(i) + BackendI32.Weight, weight) !== weight) {
      this.pools.bumpVersion(this.pool(i));
    }
  }
  /** The weight picks use (below the configured one while slow start ramps). Main thread only: slow start writes it. */
  setEffectiveWeight(i: number, weight: number): void {
    if (Atomics.exchange(this.i32, this.at.backend(i) + BackendI32.EffectiveWeight, weight) !== weight) {
      this.pools.bumpVersion(this.pool(i));
    }
  }
  isBackup(i: number): boolean {
    return Atomics.load(this.i32, this.at.backend(i) + BackendI32.Backup) === 1;
  }
  setBackup(i: number, backup: boolean): void {
    if (Atomics.exchange(this.i32, this.at.backend(i) + BackendI32.Backup, backup ? 1 : 0) !== (backup ? 1 : 0)) {
      this.pools.bumpVersion(this.pool(i));
    }
  }
  /** 0 = no limit */
  maxConnections(i: number): number {
    return Atomics.load(this.i32, this.at.backend(i) + BackendI32.MaxConnections);
  }
  setMaxConnections(i: number, n: number): void {
    Atomics.store(this.i32, this.at.backend(i) + BackendI32.MaxConnections, n);
  }
  /** True when new connections may be sent: ready, not down, slot in use. */
  eligible(i: number): boolean {
    const b = this.at.backend(i);
    return (
      Atomics.load(this.i32, b + BackendI32.InUse) === 1 &&
      Atomics.load(this.i32, b + BackendI32.Admin) === AdminState.Ready &&
      Atomics.load(this.i32, b + BackendI32.Op) !== OpState.Down
    );
  }

  // ---- connection slots (global, compareExchange against max_connections) ------------
  /** Open connections to the backend, all workers. */
  active(i: number): number {
    return Atomics.load(this.i32, this.at.backend(i) + BackendI32.Active);
  }
  /** Reserve a connection slot; false when the backend is at max_connections. */
  acquire(worker: number, i: number): boolean {
    const b = this.at.backend(i);
    const at = b + BackendI32.Active;
    const max = Atomics.load(this.i32, b + BackendI32.MaxConnections);
    if (max === 0) Atomics.add(this.i32, at, 1);
    else {
      let cur = Atomics.load(this.i32, at);
      for (;;) {
        if (cur >= max) return false;
        const seen = Atomics.compareExchange(this.i32, at, cur, cur + 1);
        if (seen === cur) break;
        cur = seen;
      }
    }
    this.f64[this.at.backendStripe(worker, i) + BackendStripe.ActiveHeld]! += 1;
    return true;
  }
  /** Give back a slot taken by acquire(). */
  release(worker: number, i: number): void {
    Atomics.sub(this.i32, this.at.backend(i) + BackendI32.Active, 1);
    this.f64[this.at.backendStripe(worker, i) + BackendStripe.ActiveHeld]! -= 1;
  }
  /**
   * A worker died: give back every slot it held, so `active` stays true.
   * Returns how many. Main thread only, after the worker's exit (its stripes have no writer then).
   */
  releaseWorker(worker: number): number {
    let released = 0;
    for (let i = 0; i < this.at.cap.backends; i++) {
      const s = this.at.backendStripe(worker, i) + BackendStripe.ActiveHeld;
      const held = this.f64[s]!;
      if (held !== 0) {
        Atomics.sub(this.i32, this.at.backend(i) + BackendI32.Active, held);
        this.f64[s] = 0;
        released += held;
      }
    }
    return released;
  }

  // ---- passive failure detection -------------------------------------------------
  /** Returns the new count of consecutive failed connections (cleared by the backend's first byte). */
  addConsecutiveFailure(i: number): number {
    return Atomics.add(this.i32, this.at.backend(i) + BackendI32.ConsecutiveFailures, 1) + 1;
  }
  resetConsecutiveFailures(i: number): void {
    const at = this.at.backend(i) + BackendI32.ConsecutiveFailures;
    if (Atomics.load(this.i32, at) !== 0) Atomics.store(this.i32, at, 0);
  }
  consecutiveFailures(i: number): number {
    return Atomics.load(this.i32, this.at.backend(i) + BackendI32.ConsecutiveFailures);
  }

  // ---- measured times (shared; racy by design) --------------------------------------
  // Several workers may update an EWMA at once and one update can be lost; an
  // average that drops a sample now and then is still the average we want, and it
  // keeps the hot path free of locks.
  /** ms; 0 before the first sample */
  ewmaConnect(i: number): number {
    return this.f64[this.at.backendF64(i) + BackendF64.EwmaConnect]!;
  }
  /** ms; 0 before the first sample */
  ewmaFirstByte(i: number): number {
    return this.f64[this.at.backendF64(i) + BackendF64.EwmaFirstByte]!;
  }
  /** ms; alpha is the weight of the new sample */
  updateEwmaConnect(i: number, ms: number, alpha = 0.2): void {
    const at = this.at.backendF64(i) + BackendF64.EwmaConnect;
    const old = this.f64[at]!;
    this.f64[at] = old === 0 ? ms : old + alpha * (ms - old);
  }
  /** ms; alpha is the weight of the new sample */
  updateEwmaFirstByte(i: number, ms: number, alpha = 0.2): void {
    const at = this.at.backendF64(i) + BackendF64.EwmaFirstByte;
    const old = this.f64[at]!;
    this.f64[at] = old === 0 ? ms : old + alpha * (ms - old);
  }

  // ---- health check results and agent data (main thread writes) -----------------------
  /** One probe's result, its duration (ms) and when it ended (ms since epoch). */
  recordCheck(i: number, result: CheckResult, durationMs: number, now: number): void {
    const f = this.at.backendF64(i);
    Atomics.store(this.i32, this.at.backend(i) + BackendI32.Check, result);
    this.f64[f + BackendF64.CheckDuration] = durationMs;
    this.f64[f + BackendF64.CheckTime] = now;
    // counted here so that every caller of recordCheck feeds the metrics
    this.f64[f + BackendF64.Checks]! += 1;
    if (result === CheckResult.Failed) this.f64[f + BackendF64.CheckFailures]! += 1;
  }
  /** Probes run and probes failed since the slot was claimed. */
  checkCounts(i: number): { checks: number; failures: number } {
    const f = this.at.backendF64(i);
    return { checks: this.f64[f + BackendF64.Checks]!, failures: this.f64[f + BackendF64.CheckFailures]! };
  }
  /** The last probe: result, duration (ms), end time (ms since epoch; 0 before any). */
  lastCheck(i: number): { result: CheckResult; durationMs: number; time: number } {
    const f = this.at.backendF64(i);
    return {
      result: Atomics.load(this.i32, this.at.backend(i) + BackendI32.Check) as CheckResult,
      durationMs: this.f64[f + BackendF64.CheckDuration]!,
      time: this.f64[f + BackendF64.CheckTime]!,
    };
  }
  /** Agent data (cpu and memory in percent, connections); NaN for a field the agent did not report. */
  recordAgent(i: number, cpu: number, memory: number, connections: number): void {
    const f = this.at.backendF64(i);
    this.f64[f + BackendF64.AgentCpu] = cpu;
    this.f64[f + BackendF64.AgentMemory] = memory;
    this.f64[f + BackendF64.AgentConnections] = connections;
  }
  /** As recordAgent() wrote it: NaN for what was not reported. */
  agent(i: number): { cpu: number; memory: number; connections: number } {
    const f = this.at.backendF64(i);
    return {
      cpu: this.f64[f + BackendF64.AgentCpu]!,
      memory: this.f64[f + BackendF64.AgentMemory]!,
      connections: this.f64[f + BackendF64.AgentConnections]!,
    };
  }
}
