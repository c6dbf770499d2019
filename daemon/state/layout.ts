// THE shared-memory layout: every field index, slot and stripe size, and the
// offset of every region in the state table's SharedArrayBuffer, computed here
// and nowhere else. The views (header.ts, listeners.ts, ...) name a field as
// `layout.<slot>(i) + FIELD`; they never multiply or add sizes themselves.
//
// Three typed arrays over one SharedArrayBuffer, one after the other:
//   i32: header, listener, pool and backend slots (states, weights, gauges). Written
//        with Atomics; health and admin state have one writer, the main thread.
//   f64: shared floats (EWMAs, agent data, times) and per-worker counter stripes,
//        starting on a cache line.
//   src: the per-source region (Int32, Atomics), starting on a cache line, present
//        when some listener tracks sources.
// A stripe is written by exactly one worker, so a plain `+=` is exact and never
// contended; Float64 keeps counters exact to 2^53 (Int32 Atomics would wrap at 2^31
// within days at 10k conn/s). Readers (main thread) sum the stripes.
import { LATENCY_BUCKETS, DURATION_BUCKETS, PROTOCOLS, REJECT_REASONS } from './names.js';

/** "nm01": the first i32 of a table; a worker attaching to anything else fails. */
export const MAGIC = 0x6e6d3031;
/** bytes */
export const CACHE_LINE = 64;
/** Largest per-source table: 2^24 entries (1 GiB of entries). */
export const MAX_SOURCE_ENTRIES = 1 << 24;

// ---- i32: header -------------------------------------------------------------
export const H_MAGIC = 0;
export const H_GENERATION = 1;
export const H_RELOADS = 2;
export const H_RELOAD_FAILURES = 3;
/** 1 when the last reload succeeded */
export const H_LAST_RELOAD_OK = 4;
export const HEADER_I32 = 16;

// ---- i32: listener slot --------------------------------------------------------
export const L_IN_USE = 0;
export const L_ACTIVE = 1;
export const L_ENABLED = 2;
export const L_MAXCONN = 3;
export const LISTENER_I32 = 8;

// ---- i32: pool slot --------------------------------------------------------------
export const P_IN_USE = 0;
export const P_ALGORITHM = 1;
export const P_VERSION = 2;
export const P_CURSOR = 3;
export const P_ADAPTIVE_CURRENT = 4;
export const P_ADAPTIVE_SWITCHES = 5;
export const P_QUEUED = 6;
export const POOL_I32 = 8;

// ---- i32: backend slot -----------------------------------------------------------
export const B_IN_USE = 0;
export const B_GENERATION = 1;
export const B_POOL = 2;
export const B_ADMIN = 3;
export const B_OP = 4;
export const B_HEALTH_COUNT = 5;
export const B_WEIGHT = 6;
export const B_EFF_WEIGHT = 7;
export const B_ACTIVE = 8;
export const B_MAXCONN = 9;
export const B_QUEUE = 10;
export const B_CONSEC_FAILS = 11;
export const B_BACKUP = 12;
export const B_CAUSE = 13;
export const B_CHECK = 14;
export const BACKEND_I32 = 16;

// ---- f64: header and backend shared fields ------------------------------------------
/** ms since epoch */
export const HF_START_TIME = 0;
/** ms since epoch */
export const HF_LAST_RELOAD_TIME = 1;
export const HEADER_F64 = 4;

/** ms since epoch */
export const BF_LAST_CHANGE = 0;
/** ms */
export const BF_EWMA_CONNECT = 1;
/** ms */
export const BF_EWMA_FIRST_BYTE = 2;
/** percent, NaN when not reported */
export const BF_AGENT_CPU = 3;
/** percent, NaN when not reported */
export const BF_AGENT_MEMORY = 4;
/** NaN when not reported */
export const BF_AGENT_CONNECTIONS = 5;
/** ms */
export const BF_CHECK_DURATION = 6;
/** ms since epoch */
export const BF_CHECK_TIME = 7;
/** ms since epoch */
export const BF_SLOW_START_BEGIN = 8;
export const BF_CHECKS = 9;
export const BF_CHECK_FAILURES = 10;
export const BACKEND_F64 = 12;

// ---- f64: per-worker backend stripe ----------------------------------------------
const LAT_N = LATENCY_BUCKETS.length + 1;
const DUR_N = DURATION_BUCKETS.length + 1;
export const S_CONNECTIONS = 0;
/** bytes */
export const S_BYTES_IN = 1;
/** bytes */
export const S_BYTES_OUT = 2;
/** + connect error reason index (3 reasons) */
export const S_CONNECT_ERRORS = 3;
export const S_RETRIES = 6;
export const S_PASSIVE_FAILURES = 7;
/** this worker's share of B_ACTIVE, released if the worker dies */
export const S_ACTIVE_HELD = 8;
/** + Histogram: sum of samples, seconds */
export const S_HIST_SUM = 9;
const S_HIST = 12; // connect buckets, first-byte buckets, duration buckets
/** Where histogram h's buckets start in a backend stripe (index = Histogram). */
export const HIST_BASE = [S_HIST, S_HIST + LAT_N, S_HIST + 2 * LAT_N] as const;
export const BACKEND_STRIPE = S_HIST + 2 * LAT_N + DUR_N;

// ---- f64: per-worker listener stripe -----------------------------------------------
export const LS_ACCEPTED = 0;
/** bytes */
export const LS_BYTES_IN = 1;
/** bytes */
export const LS_BYTES_OUT = 2;
/** this worker's share of L_ACTIVE, released if the worker dies */
export const LS_ACTIVE_HELD = 3;
/** + reject reason index */
export const LS_REJECTED = 4;
/** + protocol index */
export const LS_PROTOCOL = LS_REJECTED + REJECT_REASONS.length;
export const LISTENER_STRIPE = LS_PROTOCOL + PROTOCOLS.length;

// ---- f64: per-worker stripe ------------------------------------------------------
/** ms since epoch */
export const W_HEARTBEAT = 0;
/** ms */
export const W_LOOP_LAG = 1;
/** seconds */
export const W_CPU_USER = 2;
/** seconds */
export const W_CPU_SYSTEM = 3;
export const W_ACTIVE = 4;
export const W_ACCEPTED = 5;
export const W_STARTS = 6;
export const WORKER_STRIPE = 8;

// ---- src: per-source region ------------------------------------------------------
// Per listener slot:
/** bumped when the slot is given to a new listener: older entries then match nobody */
export const SL_EPOCH = 0;
/** entries the listener holds, against its table_size (approximate under races) */
export const SL_ENTRIES = 1;
/** entries of this listener replaced by a new source */
export const SL_EVICTIONS = 2;
/** connections admitted untracked: no entry could be claimed in the probe window */
export const SL_DEGRADED = 3;
export const SOURCE_LISTENER_I32 = 4;
// Per entry, one 64-byte cache line. An entry is found by open addressing over a
// hash of (owner, key) in daemon/data/edge/source-index.ts; sources.ts says how
// each field changes atomically.
/** version << 8 | writer: writer = worker + 1 while one rewrites the entry, 0 when stable */
export const E_TAG = 0;
/** eviction lock of the probe window that starts at this entry: worker + 1, 0 = free */
export const E_LOCK = 1;
/** listener epoch << 11 | listener slot + 1; SOURCE_EMPTY; SOURCE_DEAD */
export const E_OWNER = 2;
/** family << 8 | prefix, then the masked address as four words (IPv4: one, three zeros) */
export const E_KEY = 3;
/** words in a key: E_KEY .. E_KEY + 4 */
export const KEY_WORDS = 5;
/** open connections (compareExchange against max_connections); SOURCE_LOCKED while replaced */
export const E_ACTIVE = 8;
/** token bucket fill, fixed point: one token = floor(2^30 / burst) */
export const E_TOKENS = 9;
/** source clock (ms) up to which tokens were credited */
export const E_REFILL = 10;
/** source clock (ms) of the last lookup: the least recently seen idle entry is replaced first */
export const E_SEEN = 11;
/** connections admitted (uint32: wraps after 4.29e9) */
export const E_CONNECTIONS = 12;
/** + SourceReject (3 reasons), uint32 each */
export const E_REJECTED = 13;
export const SOURCE_REJECTS = 3;
export const SOURCE_I32 = 16;
// Then, per worker, one Int32 per entry: the connections that worker holds on the
// entry (its share of E_ACTIVE), given back when the worker dies, as S_ACTIVE_HELD.

/** The fixed capacities a table is sized for (from `[limits]`; a reload cannot grow them). */
export interface TableCapacity {
  workers: number;
  listeners: number;
  pools: number;
  backends: number;
  /** per-source entries: 0 (none) or a power of two up to MAX_SOURCE_ENTRIES */
  sources?: number;
}

/** One region of the buffer, for tests and diagnostics. */
export interface Region {
  name: string;
  /** bytes from the start of the buffer */
  byteOffset: number;
  /** bytes */
  byteLength: number;
}

/**
 * Where everything lives for one capacity. Element offsets are into the typed
 * array the region belongs to (i32, f64 or src); `bytes` is the buffer's size.
 * Throws (plain Error: a capacity is checked by the config loader first) when
 * `sources` is not 0 or a power of two up to MAX_SOURCE_ENTRIES.
 */
export class Layout {
  readonly cap: Readonly<TableCapacity>;
  /** per-source entries; 0 when no listener tracks sources */
  readonly sources: number;
  /** total size of the buffer, bytes */
  readonly bytes: number;
  /** i32 array: from byte 0, elements */
  readonly i32Length: number;
  /** f64 array: byte offset (cache-line aligned) and elements */
  readonly f64Start: number;
  readonly f64Length: number;
  /** src array: byte offset (cache-line aligned) and elements (0 without sources) */
  readonly srcStart: number;
  readonly srcLength: number;
  // element offsets of each region in its array
  private readonly lBase: number;
  private readonly pBase: number;
  private readonly bBase: number;
  private readonly hfBase = 0;
  private readonly bfBase: number;
  private readonly bsBase: number;
  private readonly lsBase: number;
  private readonly wsBase: number;
  private readonly seBase: number;
  private readonly shBase: number;

  constructor(cap: TableCapacity) {
    this.cap = Object.freeze({ ...cap });
    this.lBase = HEADER_I32;
    this.pBase = this.lBase + cap.listeners * LISTENER_I32;
    this.bBase = this.pBase + cap.pools * POOL_I32;
    this.i32Length = this.bBase + cap.backends * BACKEND_I32;
    this.f64Start = alignBytes(this.i32Length * 4);
    this.bfBase = HEADER_F64;
    this.bsBase = align8(this.bfBase + cap.backends * BACKEND_F64);
    this.lsBase = align8(this.bsBase + cap.workers * cap.backends * BACKEND_STRIPE);
    this.wsBase = align8(this.lsBase + cap.workers * cap.listeners * LISTENER_STRIPE);
    this.f64Length = this.wsBase + cap.workers * WORKER_STRIPE;
    const n = cap.sources ?? 0;
    if (n !== 0 && (n & (n - 1)) !== 0) throw new Error(`state table: source entries must be a power of two, got ${n}`);
    if (n > MAX_SOURCE_ENTRIES) throw new Error(`state table: at most ${MAX_SOURCE_ENTRIES} source entries, got ${n}`);
    this.sources = n;
    this.srcStart = alignBytes(this.f64Start + this.f64Length * 8);
    this.seBase = alignBytes(cap.listeners * SOURCE_LISTENER_I32 * 4) / 4; // entries start on a cache line
    this.shBase = this.seBase + n * SOURCE_I32;
    this.srcLength = n === 0 ? 0 : this.shBase + cap.workers * n;
    this.bytes = this.srcStart + this.srcLength * 4;
  }

  // ---- i32 ----
  /** Element offset of listener slot `i` in the i32 array. */
  listener(i: number): number {
    return this.lBase + i * LISTENER_I32;
  }
  /** Element offset of pool slot `i` in the i32 array. */
  pool(i: number): number {
    return this.pBase + i * POOL_I32;
  }
  /** Element offset of backend slot `i` in the i32 array. */
  backend(i: number): number {
    return this.bBase + i * BACKEND_I32;
  }

  // ---- f64 ----
  /** Element offset of the header's floats in the f64 array. */
  headerF64(): number {
    return this.hfBase;
  }
  /** Element offset of backend `i`'s shared floats in the f64 array. */
  backendF64(i: number): number {
    return this.bfBase + i * BACKEND_F64;
  }
  /** Element offset of `worker`'s counter stripe for backend `i` in the f64 array. */
  backendStripe(worker: number, i: number): number {
    return this.bsBase + (worker * this.cap.backends + i) * BACKEND_STRIPE;
  }
  /** Element offset of `worker`'s counter stripe for listener `i` in the f64 array. */
  listenerStripe(worker: number, i: number): number {
    return this.lsBase + (worker * this.cap.listeners + i) * LISTENER_STRIPE;
  }
  /** Element offset of `worker`'s own stripe in the f64 array. */
  workerStripe(worker: number): number {
    return this.wsBase + worker * WORKER_STRIPE;
  }

  // ---- src ----
  /** Element offset of listener slot `listener`'s per-source fields in the src array. */
  sourceListener(listener: number): number {
    return listener * SOURCE_LISTENER_I32;
  }
  /** Element offset of per-source entry `i` in the src array. */
  sourceEntry(i: number): number {
    return this.seBase + i * SOURCE_I32;
  }
  /** Element offset of `worker`'s held count on entry `i` in the src array. */
  sourceHeld(worker: number, i: number): number {
    return this.shBase + worker * this.sources + i;
  }

  /** Every region with its place in the buffer, in buffer order (empty regions included). */
  regions(): Region[] {
    const { workers, listeners, pools, backends } = this.cap;
    const i32 = (name: string, at: number, n: number): Region => ({ name, byteOffset: at * 4, byteLength: n * 4 });
    const f64 = (name: string, at: number, n: number): Region => ({
      name,
      byteOffset: this.f64Start + at * 8,
      byteLength: n * 8,
    });
    const src = (name: string, at: number, n: number): Region => ({
      name,
      byteOffset: this.srcStart + at * 4,
      byteLength: this.sources === 0 ? 0 : n * 4,
    });
    return [
      i32('header', 0, HEADER_I32),
      i32('listeners', this.lBase, listeners * LISTENER_I32),
      i32('pools', this.pBase, pools * POOL_I32),
      i32('backends', this.bBase, backends * BACKEND_I32),
      f64('header floats', this.hfBase, HEADER_F64),
      f64('backend floats', this.bfBase, backends * BACKEND_F64),
      f64('backend stripes', this.bsBase, workers * backends * BACKEND_STRIPE),
      f64('listener stripes', this.lsBase, workers * listeners * LISTENER_STRIPE),
      f64('worker stripes', this.wsBase, workers * WORKER_STRIPE),
      src('source listeners', 0, listeners * SOURCE_LISTENER_I32),
      src('source entries', this.seBase, this.sources * SOURCE_I32),
      src('source held', this.shBase, workers * this.sources),
    ];
  }
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/** bytes, rounded up to a cache line */
function alignBytes(n: number): number {
  return Math.ceil(n / CACHE_LINE) * CACHE_LINE;
}
