// THE shared-memory layout. Every field that more than one thread reads or writes
// lives here, with its offset computed in this file only; the rest of the code
// calls the typed accessors below.
//
// Two views over one SharedArrayBuffer:
//   i32: header, listener, pool and backend slots (states, weights, gauges). Written
//        with Atomics; health and admin state have one writer, the main thread.
//   f64: shared floats (EWMAs, agent data, times) and per-worker counter stripes.
//   src: the per-source table (see "per-source region" below), when configured.
// A stripe is written by exactly one worker, so a plain `+=` is exact and never
// contended; Float64 keeps counters exact to 2^53 (Int32 Atomics would wrap at 2^31
// within days at 10k conn/s). Readers (main thread) sum the stripes.

export const enum AdminState {
  Ready = 0,
  Drain = 1,
  Maint = 2,
}
export const enum OpState {
  Up = 0,
  Down = 1,
  /** recovered, ramping its weight up under slow start */
  Starting = 2,
}
/** Why a backend's state last changed, as HAProxy records it. */
export const enum Cause {
  Config = 0,
  Health = 1,
  Passive = 2,
  Admin = 3,
  Reload = 4,
  SlowStart = 5,
}
export const enum CheckResult {
  None = 0,
  Ok = 1,
  Failed = 2,
}
export const ADMIN_NAMES = ['ready', 'drain', 'maint'] as const;
export const OP_NAMES = ['up', 'down', 'starting'] as const;
export const CAUSE_NAMES = ['config', 'health', 'passive', 'admin', 'reload', 'slow_start'] as const;
export const CHECK_NAMES = ['none', 'ok', 'failed'] as const;

/** Upper bounds (seconds) of the latency histograms; a last +Inf bucket follows. */
export const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;
/** Connection duration spans milliseconds to hours. */
const DURATION_BUCKETS = [0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600] as const;
export const enum Histogram {
  Connect = 0,
  FirstByte = 1,
  Duration = 2,
}
const LAT_N = LATENCY_BUCKETS.length + 1;
const DUR_N = DURATION_BUCKETS.length + 1;

export const CONNECT_ERROR_REASONS = ['refused', 'timeout', 'other'] as const;
export type ConnectErrorReason = (typeof CONNECT_ERROR_REASONS)[number];
export const REJECT_REASONS = [
  'max_connections',
  'no_backend',
  'queue_timeout',
  'acl',
  'rate_limit',
  'proxy_header',
  'disabled',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];
export const PROTOCOLS = ['tls', 'http1', 'http2', 'ssh', 'other', 'unknown'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

// ---- i32 fields --------------------------------------------------------------
const H_MAGIC = 0;
const H_GENERATION = 1;
const H_RELOADS = 2;
const H_RELOAD_FAILURES = 3;
const H_LAST_RELOAD_OK = 4;
const HEADER_I32 = 16;

const L_IN_USE = 0;
const L_ACTIVE = 1;
const L_ENABLED = 2;
const L_MAXCONN = 3;
const LISTENER_I32 = 8;

const P_IN_USE = 0;
const P_ALGORITHM = 1;
const P_VERSION = 2;
const P_CURSOR = 3;
const P_ADAPTIVE_CURRENT = 4;
const P_ADAPTIVE_SWITCHES = 5;
const P_QUEUED = 6;
const POOL_I32 = 8;

const B_IN_USE = 0;
const B_GENERATION = 1;
const B_POOL = 2;
const B_ADMIN = 3;
const B_OP = 4;
const B_HEALTH_COUNT = 5;
const B_WEIGHT = 6;
const B_EFF_WEIGHT = 7;
const B_ACTIVE = 8;
const B_MAXCONN = 9;
const B_CONSEC_FAILS = 11;
const B_BACKUP = 12;
const B_CAUSE = 13;
const B_CHECK = 14;
const BACKEND_I32 = 16;

// ---- f64 shared fields -------------------------------------------------------
const HF_START_TIME = 0;
const HF_LAST_RELOAD_TIME = 1;
const HEADER_F64 = 4;

const BF_LAST_CHANGE = 0;
const BF_EWMA_CONNECT = 1;
const BF_EWMA_FIRST_BYTE = 2;
const BF_AGENT_CPU = 3;
const BF_AGENT_MEMORY = 4;
const BF_AGENT_CONNECTIONS = 5;
const BF_CHECK_DURATION = 6;
const BF_CHECK_TIME = 7;
const BF_SLOW_START_BEGIN = 8;
const BF_CHECKS = 9;
const BF_CHECK_FAILURES = 10;
const BACKEND_F64 = 12;

// ---- f64 per-worker stripes --------------------------------------------------
const S_CONNECTIONS = 0;
const S_BYTES_IN = 1;
const S_BYTES_OUT = 2;
const S_CONNECT_ERRORS = 3; // + reason index (3 reasons)
const S_RETRIES = 6;
const S_PASSIVE_FAILURES = 7;
const S_ACTIVE_HELD = 8; // this worker's share of B_ACTIVE, released if the worker dies
const S_HIST_SUM = 9; // + histogram index (3)
const S_HIST = 12; // connect buckets, first-byte buckets, duration buckets
const HIST_BASE = [S_HIST, S_HIST + LAT_N, S_HIST + 2 * LAT_N] as const;
const HIST_BOUNDS: readonly (readonly number[])[] = [LATENCY_BUCKETS, LATENCY_BUCKETS, DURATION_BUCKETS];
const BACKEND_STRIPE = S_HIST + 2 * LAT_N + DUR_N;

const LS_ACCEPTED = 0;
const LS_BYTES_IN = 1;
const LS_BYTES_OUT = 2;
const LS_ACTIVE_HELD = 3;
const LS_REJECTED = 4; // + reject reason index
const LS_PROTOCOL = LS_REJECTED + REJECT_REASONS.length; // + protocol index
const LISTENER_STRIPE = LS_PROTOCOL + PROTOCOLS.length;

const W_HEARTBEAT = 0;
const W_LOOP_LAG = 1;
const W_CPU_USER = 2;
const W_CPU_SYSTEM = 3;
const W_ACTIVE = 4;
const W_ACCEPTED = 5;
const W_STARTS = 6;
const WORKER_STRIPE = 8;

const PS_QUEUED_HELD = 0; // this worker's share of P_QUEUED, given back if the worker dies
const POOL_STRIPE = 1;

// ---- i32 per-source region (after the f64 part) ----------------------------------
// Per listener slot:
const SL_EPOCH = 0; // bumped when the slot is given to a new listener: older entries then match nobody
const SL_ENTRIES = 1; // entries the listener holds, against its table_size (approximate under races)
const SL_EVICTIONS = 2; // entries of this listener replaced by a new source
const SL_DEGRADED = 3; // connections admitted untracked: no entry could be claimed in the probe window
const SOURCE_LISTENER_I32 = 4;
// Per entry, one 64-byte cache line. An entry is found by open addressing over a
// hash of (owner, key) in daemon/data/edge/source-index.ts; this file only says where
// each field is and how it changes atomically.
const E_TAG = 0; // version << 8 | writer: writer = worker + 1 while one rewrites the entry, 0 when stable
const E_LOCK = 1; // eviction lock of the probe window that starts at this entry: worker + 1, 0 = free
const E_OWNER = 2; // listener epoch << 11 | listener slot + 1; SOURCE_EMPTY; SOURCE_DEAD
const E_KEY = 3; // family << 8 | prefix, then the masked address as four words (IPv4: one, three zeros)
const E_ACTIVE = 8; // open connections (compareExchange against max_connections); SOURCE_LOCKED while replaced
const E_TOKENS = 9; // token bucket fill, fixed point: one token = floor(2^30 / burst)
const E_REFILL = 10; // source clock (ms) up to which tokens were credited
const E_SEEN = 11; // source clock (ms) of the last lookup: the least recently seen idle entry is replaced first
const E_CONNECTIONS = 12; // connections admitted (uint32: wraps after 4.29e9)
const E_REJECTED = 13; // + SourceReject (3 reasons), uint32 each
const SOURCE_I32 = 16;
// Then, per worker, one Int32 per entry: the connections that worker holds on the
// entry (its share of E_ACTIVE), given back when the worker dies, as S_ACTIVE_HELD.

const TAG_WRITER = 0xff;
/** the writer id of the main thread (workers are 1..64) */
const MAIN_WRITER = 0xff;
const TAG_VERSION = 0x100;
/** E_ACTIVE while an entry is being replaced: admission sees a negative count and looks again */
const SOURCE_LOCKED = -0x80000000;
export const SOURCE_EMPTY = 0;
/** an entry whose writer died mid-rewrite: matches no key, replaced before any other */
const SOURCE_DEAD = -1;
/** a full token bucket, in fixed point: burst * one <= 2^30 keeps every value an int32 */
export const SOURCE_FULL_BUCKET = 0x40000000;
/** a refill time further back than this is taken as a long-idle source (the ms clock wraps after 24.8 days) */
const SOURCE_STALE_MS = 60_000;
/** Largest per-source table: 2^24 entries (1 GiB of entries). */
export const MAX_SOURCE_ENTRIES = 1 << 24;
export const enum SourceReject {
  MaxConnections = 0,
  RateLimit = 1,
  /** ACL or PROXY header */
  Other = 2,
}

/** One entry as the main thread reads it (for `show clients`). */
export interface SourceRecord {
  owner: number;
  family: 4 | 6;
  prefix: number;
  words: [number, number, number, number];
  active: number;
  connections: number;
  rejected: number;
}

const MAGIC = 0x6e6d3031; // "nm01"

export interface TableCapacity {
  workers: number;
  listeners: number;
  pools: number;
  backends: number;
  /** per-source entries: 0 (none) or a power of two up to MAX_SOURCE_ENTRIES */
  sources?: number;
}

/** Totals summed over all workers' stripes. */
export interface BackendCounters {
  connections: number;
  bytesIn: number;
  bytesOut: number;
  connectErrors: Record<ConnectErrorReason, number>;
  retries: number;
  passiveFailures: number;
}

export interface HistogramSnapshot {
  /** upper bounds in seconds, without +Inf */
  bounds: readonly number[];
  /** per-bucket (not cumulative) counts, bounds.length + 1 entries */
  counts: number[];
  sum: number;
  count: number;
}

export class Table {
  readonly buffer: SharedArrayBuffer;
  readonly cap: TableCapacity;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly lBase: number;
  private readonly pBase: number;
  private readonly bBase: number;
  private readonly hfBase = 0;
  private readonly bfBase: number;
  private readonly bsBase: number;
  private readonly lsBase: number;
  private readonly wsBase: number;
  private readonly psBase: number;
  private readonly src: Int32Array;
  /** per-source entries; 0 when no listener tracks sources */
  readonly sourceCapacity: number;
  private readonly seBase: number;
  private readonly shBase: number;

  /** Allocate a new table (main thread) or attach to an existing buffer (workers). */
  constructor(cap: TableCapacity, buffer?: SharedArrayBuffer) {
    this.cap = { ...cap };
    this.lBase = HEADER_I32;
    this.pBase = this.lBase + cap.listeners * LISTENER_I32;
    this.bBase = this.pBase + cap.pools * POOL_I32;
    const i32Len = this.bBase + cap.backends * BACKEND_I32;
    const f64Start = Math.ceil((i32Len * 4) / 64) * 64; // cache-line aligned
    this.bfBase = HEADER_F64;
    this.bsBase = align8(this.bfBase + cap.backends * BACKEND_F64);
    this.lsBase = align8(this.bsBase + cap.workers * cap.backends * BACKEND_STRIPE);
    this.wsBase = align8(this.lsBase + cap.workers * cap.listeners * LISTENER_STRIPE);
    this.psBase = align8(this.wsBase + cap.workers * WORKER_STRIPE);
    const f64Len = this.psBase + cap.workers * cap.pools * POOL_STRIPE;
    const n = cap.sources ?? 0;
    if (n !== 0 && (n & (n - 1)) !== 0) throw new Error(`state table: source entries must be a power of two, got ${n}`);
    if (n > MAX_SOURCE_ENTRIES) throw new Error(`state table: at most ${MAX_SOURCE_ENTRIES} source entries, got ${n}`);
    this.sourceCapacity = n;
    const srcStart = Math.ceil((f64Start + f64Len * 8) / 64) * 64;
    this.seBase = Math.ceil((cap.listeners * SOURCE_LISTENER_I32) / 16) * 16; // entries start on a cache line
    this.shBase = this.seBase + n * SOURCE_I32;
    const srcLen = n === 0 ? 0 : this.shBase + cap.workers * n;
    const bytes = srcStart + srcLen * 4;
    if (buffer) {
      if (buffer.byteLength !== bytes) throw new Error(`state table size mismatch: ${buffer.byteLength} != ${bytes}`);
      this.buffer = buffer;
    } else {
      this.buffer = new SharedArrayBuffer(bytes);
    }
    this.i32 = new Int32Array(this.buffer, 0, i32Len);
    this.f64 = new Float64Array(this.buffer, f64Start, f64Len);
    this.src = new Int32Array(this.buffer, srcStart, srcLen);
    if (!buffer) {
      this.i32[H_MAGIC] = MAGIC;
      this.f64[this.hfBase + HF_START_TIME] = Date.now();
    } else if (this.i32[H_MAGIC] !== MAGIC) {
      throw new Error('state table: bad magic');
    }
  }

  get byteLength(): number {
    return this.buffer.byteLength;
  }

  // ---- header ----------------------------------------------------------------
  get generation(): number {
    return Atomics.load(this.i32, H_GENERATION);
  }
  setGeneration(g: number): void {
    Atomics.store(this.i32, H_GENERATION, g);
  }
  get startTime(): number {
    return this.f64[this.hfBase + HF_START_TIME]!;
  }
  recordReload(ok: boolean, now: number): void {
    Atomics.add(this.i32, ok ? H_RELOADS : H_RELOAD_FAILURES, 1);
    Atomics.store(this.i32, H_LAST_RELOAD_OK, ok ? 1 : 0);
    this.f64[this.hfBase + HF_LAST_RELOAD_TIME] = now;
  }
  reloadStats(): { reloads: number; failures: number; lastOk: boolean; lastTime: number } {
    return {
      reloads: Atomics.load(this.i32, H_RELOADS),
      failures: Atomics.load(this.i32, H_RELOAD_FAILURES),
      lastOk: Atomics.load(this.i32, H_LAST_RELOAD_OK) === 1,
      lastTime: this.f64[this.hfBase + HF_LAST_RELOAD_TIME]!,
    };
  }

  // ---- listeners -------------------------------------------------------------
  private l(i: number): number {
    return this.lBase + i * LISTENER_I32;
  }
  initListener(i: number, maxConnections: number): void {
    const b = this.l(i);
    Atomics.store(this.i32, b + L_MAXCONN, maxConnections);
    Atomics.store(this.i32, b + L_ENABLED, 1);
    Atomics.store(this.i32, b + L_IN_USE, 1);
  }
  freeListener(i: number): void {
    Atomics.store(this.i32, this.l(i) + L_IN_USE, 0);
  }
  listenerInUse(i: number): boolean {
    return Atomics.load(this.i32, this.l(i) + L_IN_USE) === 1;
  }
  setListenerMaxConnections(i: number, n: number): void {
    Atomics.store(this.i32, this.l(i) + L_MAXCONN, n);
  }
  listenerEnabled(i: number): boolean {
    return Atomics.load(this.i32, this.l(i) + L_ENABLED) === 1;
  }
  setListenerEnabled(i: number, on: boolean): void {
    Atomics.store(this.i32, this.l(i) + L_ENABLED, on ? 1 : 0);
  }
  listenerActive(i: number): number {
    return Atomics.load(this.i32, this.l(i) + L_ACTIVE);
  }
  listenerMaxConnections(i: number): number {
    return Atomics.load(this.i32, this.l(i) + L_MAXCONN);
  }
  /** Take a connection slot on a listener; false when it is at max_connections. */
  acquireListener(worker: number, i: number): boolean {
    const at = this.l(i) + L_ACTIVE;
    const max = Atomics.load(this.i32, this.l(i) + L_MAXCONN);
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
    const s = this.ls(worker, i);
    this.f64[s + LS_ACTIVE_HELD]! += 1;
    this.f64[s + LS_ACCEPTED]! += 1;
    return true;
  }
  releaseListener(worker: number, i: number): void {
    Atomics.sub(this.i32, this.l(i) + L_ACTIVE, 1);
    this.f64[this.ls(worker, i) + LS_ACTIVE_HELD]! -= 1;
  }
  private ls(worker: number, i: number): number {
    return this.lsBase + (worker * this.cap.listeners + i) * LISTENER_STRIPE;
  }
  countRejected(worker: number, i: number, reason: RejectReason): void {
    this.f64[this.ls(worker, i) + LS_REJECTED + REJECT_REASONS.indexOf(reason)]! += 1;
  }
  countProtocol(worker: number, i: number, protocol: Protocol): void {
    this.f64[this.ls(worker, i) + LS_PROTOCOL + PROTOCOLS.indexOf(protocol)]! += 1;
  }
  /** Counted per chunk, as backend bytes are, so listener and pool rates agree on long connections. */
  addListenerBytesIn(worker: number, i: number, n: number): void {
    this.f64[this.ls(worker, i) + LS_BYTES_IN]! += n;
  }
  addListenerBytesOut(worker: number, i: number, n: number): void {
    this.f64[this.ls(worker, i) + LS_BYTES_OUT]! += n;
  }
  listenerCounters(i: number): {
    accepted: number;
    bytesIn: number;
    bytesOut: number;
    rejected: Record<RejectReason, number>;
    protocols: Record<Protocol, number>;
  } {
    const rejected = zeroRecord(REJECT_REASONS);
    const protocols = zeroRecord(PROTOCOLS);
    let accepted = 0;
    let bytesIn = 0;
    let bytesOut = 0;
    for (let w = 0; w < this.cap.workers; w++) {
      const s = this.ls(w, i);
      accepted += this.f64[s + LS_ACCEPTED]!;
      bytesIn += this.f64[s + LS_BYTES_IN]!;
      bytesOut += this.f64[s + LS_BYTES_OUT]!;
      REJECT_REASONS.forEach((r, k) => (rejected[r] += this.f64[s + LS_REJECTED + k]!));
      PROTOCOLS.forEach((p, k) => (protocols[p] += this.f64[s + LS_PROTOCOL + k]!));
    }
    return { accepted, bytesIn, bytesOut, rejected, protocols };
  }
  /** Zero a listener slot's counters before it is reused for a new listener. */
  resetListener(i: number): void {
    for (let w = 0; w < this.cap.workers; w++) this.f64.fill(0, this.ls(w, i), this.ls(w, i) + LISTENER_STRIPE);
    const b = this.l(i);
    this.i32.fill(0, b, b + LISTENER_I32);
    if (this.sourceCapacity > 0) {
      // the previous listener's sources stay until replaced, but no longer match
      const sl = i * SOURCE_LISTENER_I32;
      Atomics.store(this.src, sl + SL_EPOCH, (Atomics.load(this.src, sl + SL_EPOCH) + 1) & 0xfffff);
      for (const f of [SL_ENTRIES, SL_EVICTIONS, SL_DEGRADED]) Atomics.store(this.src, sl + f, 0);
    }
  }

  // ---- pools -----------------------------------------------------------------
  private p(i: number): number {
    return this.pBase + i * POOL_I32;
  }
  initPool(i: number, algorithm: number): void {
    const b = this.p(i);
    this.i32.fill(0, b, b + POOL_I32);
    Atomics.store(this.i32, b + P_ALGORITHM, algorithm);
    Atomics.store(this.i32, b + P_ADAPTIVE_CURRENT, -1);
    Atomics.store(this.i32, b + P_IN_USE, 1);
  }
  freePool(i: number): void {
    Atomics.store(this.i32, this.p(i) + P_IN_USE, 0);
  }
  poolAlgorithm(i: number): number {
    return Atomics.load(this.i32, this.p(i) + P_ALGORITHM);
  }
  setPoolAlgorithm(i: number, algorithm: number): void {
    Atomics.store(this.i32, this.p(i) + P_ALGORITHM, algorithm);
    this.bumpPoolVersion(i);
  }
  /** Bumped on every change to a pool's eligible set or weights; pickers rebuild on change. */
  poolVersion(i: number): number {
    return Atomics.load(this.i32, this.p(i) + P_VERSION);
  }
  bumpPoolVersion(i: number): void {
    Atomics.add(this.i32, this.p(i) + P_VERSION, 1);
  }
  /** Shared round-robin cursor: one fetch-add per pick, exact across workers. */
  nextCursor(i: number): number {
    return Atomics.add(this.i32, this.p(i) + P_CURSOR, 1) >>> 0;
  }
  adaptiveCurrent(i: number): number {
    return Atomics.load(this.i32, this.p(i) + P_ADAPTIVE_CURRENT);
  }
  setAdaptiveCurrent(i: number, algorithm: number): void {
    const prev = Atomics.exchange(this.i32, this.p(i) + P_ADAPTIVE_CURRENT, algorithm);
    if (prev !== algorithm && prev !== -1) Atomics.add(this.i32, this.p(i) + P_ADAPTIVE_SWITCHES, 1);
    if (prev !== algorithm) this.bumpPoolVersion(i);
  }
  adaptiveSwitches(i: number): number {
    return Atomics.load(this.i32, this.p(i) + P_ADAPTIVE_SWITCHES);
  }
  poolQueued(i: number): number {
    return Atomics.load(this.i32, this.p(i) + P_QUEUED);
  }
  /** A connection of `worker` entered (+1) or left (-1) pool `i`'s queue. */
  addPoolQueued(worker: number, i: number, delta: number): void {
    Atomics.add(this.i32, this.p(i) + P_QUEUED, delta);
    this.f64[this.ps(worker, i) + PS_QUEUED_HELD]! += delta;
  }
  private ps(worker: number, i: number): number {
    return this.psBase + (worker * this.cap.pools + i) * POOL_STRIPE;
  }

  // ---- backends: shared state --------------------------------------------------
  private b(i: number): number {
    return this.bBase + i * BACKEND_I32;
  }
  private bf(i: number): number {
    return this.bfBase + i * BACKEND_F64;
  }
  private bs(worker: number, i: number): number {
    return this.bsBase + (worker * this.cap.backends + i) * BACKEND_STRIPE;
  }
  /**
   * Claim a slot for a new backend: counters zeroed, state as given, both
   * weights at `weight` (from here on the configured weight is the topology's
   * to write, the effective weight slow start's). Main thread only.
   */
  initBackend(
    i: number,
    opts: { pool: number; weight: number; maxConnections: number; backup: boolean; generation: number; op: OpState },
    now: number,
  ): void {
    const b = this.b(i);
    this.i32.fill(0, b, b + BACKEND_I32);
    this.f64.fill(0, this.bf(i), this.bf(i) + BACKEND_F64);
    for (let w = 0; w < this.cap.workers; w++) this.f64.fill(0, this.bs(w, i), this.bs(w, i) + BACKEND_STRIPE);
    this.i32[b + B_POOL] = opts.pool;
    this.i32[b + B_WEIGHT] = opts.weight;
    this.i32[b + B_EFF_WEIGHT] = opts.weight;
    this.i32[b + B_MAXCONN] = opts.maxConnections;
    this.i32[b + B_BACKUP] = opts.backup ? 1 : 0;
    this.i32[b + B_GENERATION] = opts.generation;
    this.i32[b + B_OP] = opts.op;
    this.i32[b + B_CAUSE] = Cause.Config;
    this.f64[this.bf(i) + BF_LAST_CHANGE] = now;
    this.recordAgent(i, NaN, NaN, NaN); // nothing reported yet
    Atomics.store(this.i32, b + B_IN_USE, 1);
  }
  freeBackend(i: number): void {
    Atomics.store(this.i32, this.b(i) + B_IN_USE, 0);
  }
  backendInUse(i: number): boolean {
    return Atomics.load(this.i32, this.b(i) + B_IN_USE) === 1;
  }
  backendPool(i: number): number {
    return Atomics.load(this.i32, this.b(i) + B_POOL);
  }
  backendGeneration(i: number): number {
    return Atomics.load(this.i32, this.b(i) + B_GENERATION);
  }
  setBackendGeneration(i: number, g: number): void {
    Atomics.store(this.i32, this.b(i) + B_GENERATION, g);
  }
  adminState(i: number): AdminState {
    return Atomics.load(this.i32, this.b(i) + B_ADMIN) as AdminState;
  }
  opState(i: number): OpState {
    return Atomics.load(this.i32, this.b(i) + B_OP) as OpState;
  }
  lastCause(i: number): Cause {
    return Atomics.load(this.i32, this.b(i) + B_CAUSE) as Cause;
  }
  lastChange(i: number): number {
    return this.f64[this.bf(i) + BF_LAST_CHANGE]!;
  }
  /** Main thread only. Returns whether anything changed. */
  setAdminState(i: number, s: AdminState, cause: Cause, now: number): boolean {
    const b = this.b(i);
    if (Atomics.exchange(this.i32, b + B_ADMIN, s) === s) return false;
    Atomics.store(this.i32, b + B_CAUSE, cause);
    this.f64[this.bf(i) + BF_LAST_CHANGE] = now;
    this.bumpPoolVersion(this.backendPool(i));
    return true;
  }
  /** Main thread only. Returns whether anything changed. */
  setOpState(i: number, s: OpState, cause: Cause, now: number): boolean {
    const b = this.b(i);
    if (Atomics.exchange(this.i32, b + B_OP, s) === s) return false;
    Atomics.store(this.i32, b + B_CAUSE, cause);
    this.f64[this.bf(i) + BF_LAST_CHANGE] = now;
    if (s === OpState.Starting) this.f64[this.bf(i) + BF_SLOW_START_BEGIN] = now;
    this.bumpPoolVersion(this.backendPool(i));
    return true;
  }
  slowStartBegin(i: number): number {
    return this.f64[this.bf(i) + BF_SLOW_START_BEGIN]!;
  }
  /** Signed progress toward rise (>0) or fall (<0); kept by the health module. */
  healthCount(i: number): number {
    return Atomics.load(this.i32, this.b(i) + B_HEALTH_COUNT);
  }
  setHealthCount(i: number, n: number): void {
    Atomics.store(this.i32, this.b(i) + B_HEALTH_COUNT, n);
  }
  weight(i: number): number {
    return Atomics.load(this.i32, this.b(i) + B_WEIGHT);
  }
  effectiveWeight(i: number): number {
    return Atomics.load(this.i32, this.b(i) + B_EFF_WEIGHT);
  }
  /** The weight the config (or `set weight`) gives the backend. Main thread only: the topology writes it. */
  setConfiguredWeight(i: number, weight: number): void {
    if (Atomics.exchange(this.i32, this.b(i) + B_WEIGHT, weight) !== weight) this.bumpPoolVersion(this.backendPool(i));
  }
  /** The weight picks use (below the configured one while slow start ramps). Main thread only: slow start writes it. */
  setEffectiveWeight(i: number, weight: number): void {
    if (Atomics.exchange(this.i32, this.b(i) + B_EFF_WEIGHT, weight) !== weight) {
      this.bumpPoolVersion(this.backendPool(i));
    }
  }
  isBackup(i: number): boolean {
    return Atomics.load(this.i32, this.b(i) + B_BACKUP) === 1;
  }
  setBackup(i: number, backup: boolean): void {
    if (Atomics.exchange(this.i32, this.b(i) + B_BACKUP, backup ? 1 : 0) !== (backup ? 1 : 0)) {
      this.bumpPoolVersion(this.backendPool(i));
    }
  }
  maxConnections(i: number): number {
    return Atomics.load(this.i32, this.b(i) + B_MAXCONN);
  }
  setMaxConnections(i: number, n: number): void {
    Atomics.store(this.i32, this.b(i) + B_MAXCONN, n);
  }
  /** True when new connections may be sent: ready, not down, slot in use. */
  eligible(i: number): boolean {
    const b = this.b(i);
    return (
      Atomics.load(this.i32, b + B_IN_USE) === 1 &&
      Atomics.load(this.i32, b + B_ADMIN) === AdminState.Ready &&
      Atomics.load(this.i32, b + B_OP) !== OpState.Down
    );
  }

  // ---- backends: connection slots (global, compareExchange against maxconn) ------
  active(i: number): number {
    return Atomics.load(this.i32, this.b(i) + B_ACTIVE);
  }
  /** Reserve a connection slot; false when the backend is at max_connections. */
  acquire(worker: number, i: number): boolean {
    const at = this.b(i) + B_ACTIVE;
    const max = Atomics.load(this.i32, this.b(i) + B_MAXCONN);
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
    this.f64[this.bs(worker, i) + S_ACTIVE_HELD]! += 1;
    return true;
  }
  release(worker: number, i: number): void {
    Atomics.sub(this.i32, this.b(i) + B_ACTIVE, 1);
    this.f64[this.bs(worker, i) + S_ACTIVE_HELD]! -= 1;
  }
  /**
   * A worker is gone: give back every reservation its connections still held
   * (backend and listener slots, queue places, per-source counts, its open
   * count), so the shared counts stay true. Returns what was given back: all
   * zero after a worker that closed its connections itself. Main thread only,
   * after the worker's exit (its stripes have no writer then).
   */
  releaseWorker(worker: number): Reclaimed {
    const r: Reclaimed = { backends: 0, listeners: 0, queued: 0, sources: 0, connections: 0 };
    for (let i = 0; i < this.cap.backends; i++) {
      const s = this.bs(worker, i) + S_ACTIVE_HELD;
      const held = this.f64[s]!;
      if (held !== 0) {
        Atomics.sub(this.i32, this.b(i) + B_ACTIVE, held);
        this.f64[s] = 0;
        r.backends += held;
      }
    }
    for (let i = 0; i < this.cap.listeners; i++) {
      const s = this.ls(worker, i) + LS_ACTIVE_HELD;
      const held = this.f64[s]!;
      if (held !== 0) {
        Atomics.sub(this.i32, this.l(i) + L_ACTIVE, held);
        this.f64[s] = 0;
        r.listeners += held;
      }
    }
    for (let i = 0; i < this.cap.pools; i++) {
      const s = this.ps(worker, i) + PS_QUEUED_HELD;
      const held = this.f64[s]!;
      if (held !== 0) {
        Atomics.sub(this.i32, this.p(i) + P_QUEUED, held);
        this.f64[s] = 0;
        r.queued += held;
      }
    }
    r.connections = this.f64[this.ws(worker) + W_ACTIVE]!;
    this.f64[this.ws(worker) + W_ACTIVE] = 0;
    if (this.sourceCapacity > 0) r.sources = this.releaseWorkerSources(worker);
    return r;
  }

  // ---- backends: passive failure detection ----------------------------------------
  /** Returns the new count of consecutive connect failures. */
  addConsecutiveFailure(i: number): number {
    return Atomics.add(this.i32, this.b(i) + B_CONSEC_FAILS, 1) + 1;
  }
  resetConsecutiveFailures(i: number): void {
    if (Atomics.load(this.i32, this.b(i) + B_CONSEC_FAILS) !== 0)
      Atomics.store(this.i32, this.b(i) + B_CONSEC_FAILS, 0);
  }
  consecutiveFailures(i: number): number {
    return Atomics.load(this.i32, this.b(i) + B_CONSEC_FAILS);
  }

  // ---- backends: counters (per-worker stripes) ----------------------------------
  countConnection(worker: number, i: number): void {
    this.f64[this.bs(worker, i) + S_CONNECTIONS]! += 1;
  }
  addBytesIn(worker: number, i: number, n: number): void {
    this.f64[this.bs(worker, i) + S_BYTES_IN]! += n;
  }
  addBytesOut(worker: number, i: number, n: number): void {
    this.f64[this.bs(worker, i) + S_BYTES_OUT]! += n;
  }
  countConnectError(worker: number, i: number, reason: ConnectErrorReason): void {
    const k = reason === 'refused' ? 0 : reason === 'timeout' ? 1 : 2;
    this.f64[this.bs(worker, i) + S_CONNECT_ERRORS + k]! += 1;
  }
  countRetry(worker: number, i: number): void {
    this.f64[this.bs(worker, i) + S_RETRIES]! += 1;
  }
  countPassiveFailure(worker: number, i: number): void {
    this.f64[this.bs(worker, i) + S_PASSIVE_FAILURES]! += 1;
  }
  /** Record one sample, in seconds, into a fixed-bucket histogram. */
  observe(worker: number, i: number, h: Histogram, seconds: number): void {
    const s = this.bs(worker, i);
    const bounds = HIST_BOUNDS[h]!;
    let k = 0;
    while (k < bounds.length && seconds > bounds[k]!) k++;
    this.f64[s + HIST_BASE[h] + k]! += 1;
    this.f64[s + S_HIST_SUM + h]! += seconds;
  }
  backendCounters(i: number): BackendCounters {
    const c: BackendCounters = {
      connections: 0,
      bytesIn: 0,
      bytesOut: 0,
      connectErrors: { refused: 0, timeout: 0, other: 0 },
      retries: 0,
      passiveFailures: 0,
    };
    for (let w = 0; w < this.cap.workers; w++) {
      const s = this.bs(w, i);
      c.connections += this.f64[s + S_CONNECTIONS]!;
      c.bytesIn += this.f64[s + S_BYTES_IN]!;
      c.bytesOut += this.f64[s + S_BYTES_OUT]!;
      c.connectErrors.refused += this.f64[s + S_CONNECT_ERRORS]!;
      c.connectErrors.timeout += this.f64[s + S_CONNECT_ERRORS + 1]!;
      c.connectErrors.other += this.f64[s + S_CONNECT_ERRORS + 2]!;
      c.retries += this.f64[s + S_RETRIES]!;
      c.passiveFailures += this.f64[s + S_PASSIVE_FAILURES]!;
    }
    return c;
  }
  histogram(i: number, h: Histogram): HistogramSnapshot {
    const bounds = HIST_BOUNDS[h]!;
    const counts = new Array<number>(bounds.length + 1).fill(0);
    let sum = 0;
    for (let w = 0; w < this.cap.workers; w++) {
      const s = this.bs(w, i);
      for (let k = 0; k < counts.length; k++) counts[k]! += this.f64[s + HIST_BASE[h] + k]!;
      sum += this.f64[s + S_HIST_SUM + h]!;
    }
    return { bounds, counts, sum, count: counts.reduce((a, b) => a + b, 0) };
  }

  // ---- backends: measured times (shared; racy by design) ------------------------
  // Several workers may update an EWMA at once and one update can be lost; an
  // average that drops a sample now and then is still the average we want, and it
  // keeps the hot path free of locks.
  ewmaConnect(i: number): number {
    return this.f64[this.bf(i) + BF_EWMA_CONNECT]!;
  }
  ewmaFirstByte(i: number): number {
    return this.f64[this.bf(i) + BF_EWMA_FIRST_BYTE]!;
  }
  /** ms; alpha is the weight of the new sample */
  updateEwmaConnect(i: number, ms: number, alpha = 0.2): void {
    const at = this.bf(i) + BF_EWMA_CONNECT;
    const old = this.f64[at]!;
    this.f64[at] = old === 0 ? ms : old + alpha * (ms - old);
  }
  updateEwmaFirstByte(i: number, ms: number, alpha = 0.2): void {
    const at = this.bf(i) + BF_EWMA_FIRST_BYTE;
    const old = this.f64[at]!;
    this.f64[at] = old === 0 ? ms : old + alpha * (ms - old);
  }

  // ---- backends: health check results and agent data (main thread writes) ----------
  recordCheck(i: number, result: CheckResult, durationMs: number, now: number): void {
    Atomics.store(this.i32, this.b(i) + B_CHECK, result);
    this.f64[this.bf(i) + BF_CHECK_DURATION] = durationMs;
    this.f64[this.bf(i) + BF_CHECK_TIME] = now;
    // counted here so that every caller of recordCheck feeds the metrics
    this.f64[this.bf(i) + BF_CHECKS]! += 1;
    if (result === CheckResult.Failed) this.f64[this.bf(i) + BF_CHECK_FAILURES]! += 1;
  }
  /** Probes run and probes failed since the slot was claimed. */
  checkCounts(i: number): { checks: number; failures: number } {
    return { checks: this.f64[this.bf(i) + BF_CHECKS]!, failures: this.f64[this.bf(i) + BF_CHECK_FAILURES]! };
  }
  lastCheck(i: number): { result: CheckResult; durationMs: number; time: number } {
    return {
      result: Atomics.load(this.i32, this.b(i) + B_CHECK) as CheckResult,
      durationMs: this.f64[this.bf(i) + BF_CHECK_DURATION]!,
      time: this.f64[this.bf(i) + BF_CHECK_TIME]!,
    };
  }
  /** NaN for a field the agent did not report. */
  recordAgent(i: number, cpu: number, memory: number, connections: number): void {
    const f = this.bf(i);
    this.f64[f + BF_AGENT_CPU] = cpu;
    this.f64[f + BF_AGENT_MEMORY] = memory;
    this.f64[f + BF_AGENT_CONNECTIONS] = connections;
  }
  agent(i: number): { cpu: number; memory: number; connections: number } {
    const f = this.bf(i);
    return {
      cpu: this.f64[f + BF_AGENT_CPU]!,
      memory: this.f64[f + BF_AGENT_MEMORY]!,
      connections: this.f64[f + BF_AGENT_CONNECTIONS]!,
    };
  }

  // ---- per-source region ------------------------------------------------------------
  // Shared by all workers, so per-source limits hold for the whole daemon. The hash
  // index and its claim protocol are in daemon/data/edge/source-index.ts; here, each
  // field and the atomic step that changes it.
  private se(i: number): number {
    return this.seBase + i * SOURCE_I32;
  }
  private sl(listener: number): number {
    return listener * SOURCE_LISTENER_I32;
  }
  /** The owner word entries of this listener carry: its slot and the slot's epoch. */
  sourceOwnerWord(listener: number): number {
    return (Atomics.load(this.src, this.sl(listener) + SL_EPOCH) << 11) | (listener + 1) | 0;
  }
  /** The listener slot an owner word names (-1 for an empty or dead entry). */
  static sourceOwnerListener(owner: number): number {
    return owner === SOURCE_EMPTY || owner === SOURCE_DEAD ? -1 : (owner & 0x7ff) - 1;
  }
  sourceTag(i: number): number {
    return Atomics.load(this.src, this.se(i) + E_TAG);
  }
  /** Whether a tag is stable (no rewrite in progress). */
  static sourceTagStable(tag: number): boolean {
    return (tag & TAG_WRITER) === 0;
  }
  /** Take the right to rewrite entry `i`, seen stable as `tag`; true when this worker now holds it. */
  claimSource(worker: number, i: number, tag: number): boolean {
    return Atomics.compareExchange(this.src, this.se(i) + E_TAG, tag, tag | (worker + 1) | 0) === tag;
  }
  /** Give up a claim without change: readers see the entry as it was. */
  unclaimSource(i: number, tag: number): void {
    Atomics.store(this.src, this.se(i) + E_TAG, tag);
    Atomics.notify(this.src, this.se(i) + E_TAG);
  }
  /** End a rewrite: a new version, so a reader that saw the old tag looks again. Returns it. */
  publishSource(i: number, tag: number): number {
    const next = ((tag & ~TAG_WRITER) + TAG_VERSION) | 0;
    Atomics.store(this.src, this.se(i) + E_TAG, next);
    // wakes workers waiting in waitSourceTag(); costs little with no one waiting, and runs once per new source
    Atomics.notify(this.src, this.se(i) + E_TAG);
    return next;
  }
  /** Take the eviction lock of the window starting at `i`; false when another worker holds it. */
  lockSourceWindow(worker: number, i: number): boolean {
    return Atomics.compareExchange(this.src, this.se(i) + E_LOCK, 0, worker + 1) === 0;
  }
  sourceWindowLocked(i: number): boolean {
    return Atomics.load(this.src, this.se(i) + E_LOCK) !== 0;
  }
  unlockSourceWindow(i: number): void {
    Atomics.store(this.src, this.se(i) + E_LOCK, 0);
    Atomics.notify(this.src, this.se(i) + E_LOCK);
  }
  /**
   * Sleep up to `ms` while entry `i`'s tag is still `tag` (a rewrite by another
   * worker): the CPU goes to that worker if it was preempted mid-rewrite.
   */
  waitSourceTag(i: number, tag: number, ms: number): void {
    Atomics.wait(this.src, this.se(i) + E_TAG, tag, ms);
  }
  /** Sleep up to `ms` while the window lock at `i` is held. */
  waitSourceWindow(i: number, ms: number): void {
    const at = this.se(i) + E_LOCK;
    const holder = Atomics.load(this.src, at);
    if (holder !== 0) Atomics.wait(this.src, at, holder, ms);
  }
  sourceOwner(i: number): number {
    return Atomics.load(this.src, this.se(i) + E_OWNER);
  }
  /** Whether entry `i` holds `key` ([family << 8 | prefix, four address words]) for `owner`. */
  sourceKeyIs(i: number, owner: number, key: Int32Array): boolean {
    const e = this.se(i);
    const s = this.src;
    return (
      Atomics.load(s, e + E_OWNER) === owner &&
      Atomics.load(s, e + E_KEY) === key[0] &&
      Atomics.load(s, e + E_KEY + 1) === key[1] &&
      Atomics.load(s, e + E_KEY + 2) === key[2] &&
      Atomics.load(s, e + E_KEY + 3) === key[3] &&
      Atomics.load(s, e + E_KEY + 4) === key[4]
    );
  }
  /** Whether entry `i` has an open connection (or is being replaced). */
  sourceBusy(i: number): boolean {
    return Atomics.load(this.src, this.se(i) + E_ACTIVE) !== 0;
  }
  /** Stop admissions to an idle entry before replacing it; false when it has a connection. */
  lockSourceActive(i: number): boolean {
    return Atomics.compareExchange(this.src, this.se(i) + E_ACTIVE, 0, SOURCE_LOCKED) === 0;
  }
  /**
   * Write a new source into entry `i` (whose claim this worker holds): key,
   * counters zeroed, a full bucket, seen now, then the owner, then active 0
   * (which also lifts SOURCE_LOCKED). The caller publishes the tag after.
   */
  writeSource(i: number, owner: number, key: Int32Array, tokens: number, now: number): void {
    const e = this.se(i);
    const s = this.src;
    for (let k = 0; k < 5; k++) Atomics.store(s, e + E_KEY + k, key[k]!);
    Atomics.store(s, e + E_TOKENS, tokens);
    Atomics.store(s, e + E_REFILL, now);
    Atomics.store(s, e + E_SEEN, now);
    Atomics.store(s, e + E_CONNECTIONS, 0);
    for (let k = 0; k < 3; k++) Atomics.store(s, e + E_REJECTED + k, 0);
    Atomics.store(s, e + E_OWNER, owner);
    Atomics.store(s, e + E_ACTIVE, 0);
  }
  /**
   * Make entry `i` (claimed, SOURCE_LOCKED) match nobody without emptying it, so
   * the probes that pass it go on; it is the first to be replaced. The caller
   * publishes the tag after.
   */
  retireSource(i: number): void {
    Atomics.store(this.src, this.se(i) + E_OWNER, SOURCE_DEAD);
    Atomics.store(this.src, this.se(i) + E_ACTIVE, 0);
  }
  /**
   * Main thread: retire idle entry `i`, seen stable as `tag`, to bring a listener
   * over its table_size back to it. False when a worker got there first or the
   * entry has a connection again.
   */
  trimSource(i: number, tag: number): boolean {
    if (!this.claimSource(MAIN_WRITER - 1, i, tag)) return false;
    if (!this.lockSourceActive(i)) {
      this.unclaimSource(i, tag);
      return false;
    }
    this.retireSource(i);
    this.publishSource(i, tag);
    return true;
  }
  sourceActive(i: number): number {
    return Atomics.load(this.src, this.se(i) + E_ACTIVE);
  }
  /**
   * Count a connection on entry `i` against `max` (0 = no limit), like acquire()
   * for a backend: 1 taken, 0 at max, -1 when the entry is being replaced (look again).
   */
  acquireSource(worker: number, i: number, max: number): number {
    const at = this.se(i) + E_ACTIVE;
    let cur = Atomics.load(this.src, at);
    for (;;) {
      if (cur < 0) return -1;
      if (max > 0 && cur >= max) return 0;
      const seen = Atomics.compareExchange(this.src, at, cur, cur + 1);
      if (seen === cur) break;
      cur = seen;
    }
    this.src[this.shBase + worker * this.sourceCapacity + i]! += 1;
    return 1;
  }
  /** A connection counted by acquireSource() closed: the same entry, whatever happened to it since. */
  releaseSource(worker: number, i: number): void {
    Atomics.sub(this.src, this.se(i) + E_ACTIVE, 1);
    this.src[this.shBase + worker * this.sourceCapacity + i]! -= 1;
  }
  /**
   * Take one token from entry `i`'s bucket (`one` per token, `full` when full,
   * refilled at `perMs` per ms of the source clock). The span since the last
   * refill is credited by whichever worker moves E_REFILL forward with
   * compareExchange, so it is credited exactly once; the fill itself changes
   * with compareExchange loops. False when less than one token is left.
   */
  takeSourceToken(i: number, now: number, perMs: number, one: number, full: number): boolean {
    const e = this.se(i);
    const s = this.src;
    let last = Atomics.load(s, e + E_REFILL);
    for (;;) {
      const d = (now - last) | 0;
      // another worker's clock a little ahead: nothing to credit yet
      if (d <= 0 && d >= -SOURCE_STALE_MS) break;
      const seen = Atomics.compareExchange(s, e + E_REFILL, last, now);
      if (seen !== last) {
        last = seen;
        continue;
      }
      // far behind (negative after the int32 wrap): idle for weeks, so the bucket is full
      const credit = d < 0 ? full : Math.floor(d * perMs);
      let cur = Atomics.load(s, e + E_TOKENS);
      for (;;) {
        const next = Math.min(full, cur + credit);
        const got = Atomics.compareExchange(s, e + E_TOKENS, cur, next);
        if (got === cur) break;
        cur = got;
      }
      break;
    }
    let cur = Atomics.load(s, e + E_TOKENS);
    for (;;) {
      if (cur < one) return false;
      const got = Atomics.compareExchange(s, e + E_TOKENS, cur, cur - one);
      if (got === cur) return true;
      cur = got;
    }
  }
  touchSource(i: number, now: number): void {
    Atomics.store(this.src, this.se(i) + E_SEEN, now);
  }
  sourceSeen(i: number): number {
    return Atomics.load(this.src, this.se(i) + E_SEEN);
  }
  countSourceConnection(i: number): void {
    Atomics.add(this.src, this.se(i) + E_CONNECTIONS, 1);
  }
  countSourceRejected(i: number, reason: SourceReject): void {
    Atomics.add(this.src, this.se(i) + E_REJECTED + reason, 1);
  }
  addSourceEntries(listener: number, delta: number): void {
    Atomics.add(this.src, this.sl(listener) + SL_ENTRIES, delta);
  }
  sourceEntries(listener: number): number {
    return Atomics.load(this.src, this.sl(listener) + SL_ENTRIES);
  }
  countSourceEviction(listener: number): void {
    Atomics.add(this.src, this.sl(listener) + SL_EVICTIONS, 1);
  }
  countSourceDegraded(listener: number): void {
    Atomics.add(this.src, this.sl(listener) + SL_DEGRADED, 1);
  }
  sourceListenerStats(listener: number): SourceListenerStats {
    if (this.sourceCapacity === 0) return { entries: 0, evictions: 0, degraded: 0 };
    const b = this.sl(listener);
    return {
      entries: Math.max(0, Atomics.load(this.src, b + SL_ENTRIES)),
      evictions: Atomics.load(this.src, b + SL_EVICTIONS) >>> 0,
      degraded: Atomics.load(this.src, b + SL_DEGRADED) >>> 0,
    };
  }
  /** Copy entry `i` into `out` (main thread); false when it is empty, dead or being rewritten. */
  readSource(i: number, out: SourceRecord): boolean {
    const e = this.se(i);
    const s = this.src;
    const tag = Atomics.load(s, e + E_TAG);
    if ((tag & TAG_WRITER) !== 0) return false;
    const owner = Atomics.load(s, e + E_OWNER);
    if (owner === SOURCE_EMPTY || owner === SOURCE_DEAD) return false;
    const fp = Atomics.load(s, e + E_KEY);
    out.owner = owner;
    out.family = fp >> 8 === 6 ? 6 : 4;
    out.prefix = fp & 0xff;
    for (let k = 0; k < 4; k++) out.words[k] = Atomics.load(s, e + E_KEY + 1 + k) >>> 0;
    out.active = Math.max(0, Atomics.load(s, e + E_ACTIVE));
    out.connections = Atomics.load(s, e + E_CONNECTIONS) >>> 0;
    let rejected = 0;
    for (let k = 0; k < 3; k++) rejected += Atomics.load(s, e + E_REJECTED + k) >>> 0;
    out.rejected = rejected;
    // a rewrite during the copy: the caller skips the entry rather than show a mix of two sources
    return Atomics.load(s, e + E_TAG) === tag;
  }
  /**
   * A worker died: give back the connections it held on each entry, and undo
   * what it left half done: a window lock is released, and an entry it was
   * rewriting becomes SOURCE_DEAD (not empty: an empty entry ends a probe, and
   * the sources after it in the window would be missed and tracked twice).
   */
  private releaseWorkerSources(worker: number): number {
    const s = this.src;
    const n = this.sourceCapacity;
    const h = this.shBase + worker * n;
    const me = worker + 1;
    let released = 0;
    for (let i = 0; i < n; i++) {
      const held = s[h + i]!;
      const e = this.se(i);
      if (held !== 0) {
        Atomics.sub(s, e + E_ACTIVE, held);
        s[h + i] = 0;
        released += held;
      }
      if (Atomics.load(s, e + E_LOCK) === me) Atomics.store(s, e + E_LOCK, 0);
      const tag = Atomics.load(s, e + E_TAG);
      if ((tag & TAG_WRITER) === me) {
        Atomics.store(s, e + E_OWNER, SOURCE_DEAD);
        // lift SOURCE_LOCKED; a count another worker is about to undo is left to it
        Atomics.compareExchange(s, e + E_ACTIVE, SOURCE_LOCKED, 0);
        this.publishSource(i, tag);
      }
    }
    return released;
  }

  // ---- workers ---------------------------------------------------------------------
  private ws(worker: number): number {
    return this.wsBase + worker * WORKER_STRIPE;
  }
  /** A worker reports it is alive, with its event-loop lag (ms) and CPU seconds. */
  workerBeat(worker: number, now: number, loopLagMs: number, cpuUser: number, cpuSystem: number): void {
    const s = this.ws(worker);
    this.f64[s + W_HEARTBEAT] = now;
    this.f64[s + W_LOOP_LAG] = loopLagMs;
    this.f64[s + W_CPU_USER] = cpuUser;
    this.f64[s + W_CPU_SYSTEM] = cpuSystem;
  }
  workerConnectionOpened(worker: number): void {
    const s = this.ws(worker);
    this.f64[s + W_ACTIVE]! += 1;
    this.f64[s + W_ACCEPTED]! += 1;
  }
  workerConnectionClosed(worker: number): void {
    this.f64[this.ws(worker) + W_ACTIVE]! -= 1;
  }
  countWorkerStart(worker: number): void {
    this.f64[this.ws(worker) + W_STARTS]! += 1;
  }
  workerStats(worker: number): {
    heartbeat: number;
    loopLagMs: number;
    cpuUser: number;
    cpuSystem: number;
    active: number;
    accepted: number;
    starts: number;
  } {
    const s = this.ws(worker);
    return {
      heartbeat: this.f64[s + W_HEARTBEAT]!,
      loopLagMs: this.f64[s + W_LOOP_LAG]!,
      cpuUser: this.f64[s + W_CPU_USER]!,
      cpuSystem: this.f64[s + W_CPU_SYSTEM]!,
      active: this.f64[s + W_ACTIVE]!,
      accepted: this.f64[s + W_ACCEPTED]!,
      starts: this.f64[s + W_STARTS]!,
    };
  }
}

/** What Table.releaseWorker() gave back for a worker that had not released it. */
export interface Reclaimed {
  backends: number;
  listeners: number;
  queued: number;
  sources: number;
  /** the worker's count of open connections */
  connections: number;
}

export interface SourceListenerStats {
  /** entries held, against table_size */
  entries: number;
  /** entries replaced by a new source */
  evictions: number;
  /** connections admitted untracked because no entry could be claimed */
  degraded: number;
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

function zeroRecord<K extends string>(keys: readonly K[]): Record<K, number> {
  const r = {} as Record<K, number>;
  for (const k of keys) r[k] = 0;
  return r;
}
