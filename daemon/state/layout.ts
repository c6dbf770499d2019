// THE shared-memory layout: every field index, slot and stripe size, and the
// offset of every region in the state table's SharedArrayBuffer, computed here
// and nowhere else. The views (header.ts, listeners.ts, ...) name a field as
// `layout.backend(i) + BackendI32.Active`; they never multiply or add sizes themselves.
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
import {
  CONNECT_ERROR_REASONS,
  DURATION_BUCKETS,
  Histogram,
  HISTOGRAM_NAMES,
  LATENCY_BUCKETS,
  PEEK_MISS_REASONS,
  PROTOCOLS,
  REJECT_REASONS,
  RESET_SIDES,
  RESPONSE_ERROR_REASONS,
} from './names.js';

/** "nm01": the first i32 of a table; a worker attaching to anything else fails. */
export const MAGIC = 0x6e6d3031;
/** bytes */
export const CACHE_LINE = 64;
/** Largest per-source table: 2^24 entries (1 GiB of entries). */
export const MAX_SOURCE_ENTRIES = 1 << 24;

// Field indices are `const enum`s, one per kind of slot or stripe, whose `Size`
// member is the slot's length in elements. tsc writes the number at every use,
// so a hot path reads no module variable (an imported `const` costs a load and a
// check on every access). The sizes that follow a name list in names.ts are
// checked against it when this module loads.

/** words in a source key: family << 8 | prefix, then four address words */
export const KEY_WORDS = 5;
/** SourceReject reasons counted per entry */
export const SOURCE_REJECTS = 3;

/** i32 header fields. */
export const enum HeaderI32 {
  Magic = 0,
  Generation = 1,
  Reloads = 2,
  ReloadFailures = 3,
  /** 1 when the last reload succeeded */
  LastReloadOk = 4,
  Size = 16,
}
/** f64 header fields. */
export const enum HeaderF64 {
  /** ms since epoch */
  StartTime = 0,
  /** ms since epoch */
  LastReloadTime = 1,
  Size = 4,
}

/** i32 listener slot fields. */
export const enum ListenerI32 {
  InUse = 0,
  /** open connections, all workers */
  Active = 1,
  Enabled = 2,
  /** 0 = no limit */
  MaxConnections = 3,
  Size = 8,
}

/** i32 pool slot fields. */
export const enum PoolI32 {
  InUse = 0,
  Algorithm = 1,
  Version = 2,
  Cursor = 3,
  AdaptiveCurrent = 4,
  AdaptiveSwitches = 5,
  /** connections waiting in the pool's queue, all workers (compareExchange against queue_size) */
  Queued = 6,
  /** the next queue ticket (uint32, wraps): a waiter's place in the pool's one waiting order */
  QueueTicket = 7,
  /** bumped (and Atomics.notify'd) when a waiter in another worker may now be served */
  QueueSignal = 8,
  Size = 12,
}

/** i32 backend slot fields. */
export const enum BackendI32 {
  InUse = 0,
  Generation = 1,
  Pool = 2,
  Admin = 3,
  Op = 4,
  HealthCount = 5,
  Weight = 6,
  EffectiveWeight = 7,
  /** open connections, all workers */
  Active = 8,
  /** 0 = no limit */
  MaxConnections = 9,
  ConsecutiveFailures = 11,
  Backup = 12,
  Cause = 13,
  Check = 14,
  Size = 16,
}

/** f64 backend fields shared by all threads. */
export const enum BackendF64 {
  /** ms since epoch */
  LastChange = 0,
  /** ms */
  EwmaConnect = 1,
  /** ms */
  EwmaFirstByte = 2,
  /** percent, NaN when not reported */
  AgentCpu = 3,
  /** percent, NaN when not reported */
  AgentMemory = 4,
  /** NaN when not reported */
  AgentConnections = 5,
  /** ms */
  CheckDuration = 6,
  /** ms since epoch */
  CheckTime = 7,
  /** ms since epoch */
  SlowStartBegin = 8,
  Checks = 9,
  CheckFailures = 10,
  Size = 12,
}

/** f64 fields of one worker's stripe for one backend. */
export const enum BackendStripe {
  Connections = 0,
  /** bytes */
  BytesIn = 1,
  /** bytes */
  BytesOut = 2,
  /** + connect error reason index (3 reasons) */
  ConnectErrors = 3,
  Retries = 6,
  PassiveFailures = 7,
  /** this worker's share of BackendI32.Active, released if the worker dies */
  ActiveHeld = 8,
  /** + Histogram: sum of samples, seconds */
  HistSum = 9,
  /** connect time buckets (LATENCY_BUCKETS + Inf) */
  HistConnect = 12,
  /** first-byte time buckets (LATENCY_BUCKETS + Inf) */
  HistFirstByte = 27,
  /** duration buckets (DURATION_BUCKETS + Inf) */
  HistDuration = 42,
  /** + ResetSide index: relayed connections reset by the client / by the backend */
  Resets = 55,
  /** + ResponseErrorReason index */
  ResponseErrors = 57,
  /** elements in the slot: 12 fields, 15 connect, 15 first-byte and 13 duration buckets, 2 resets, 2 response errors */
  Size = 59,
}

/** f64 fields of one worker's stripe for one listener. */
export const enum ListenerStripe {
  Accepted = 0,
  /** bytes */
  BytesIn = 1,
  /** bytes */
  BytesOut = 2,
  /** this worker's share of ListenerI32.Active, released if the worker dies */
  ActiveHeld = 3,
  /** + reject reason index */
  Rejected = 4,
  /** + protocol index */
  Protocol = 12,
  /** + PeekMissReason index */
  PeekMisses = 21,
  /** + ResetSide index */
  Resets = 26,
  /** elements in the slot: 4 fields, 8 reject reasons, 9 protocols, 5 peek misses, 2 reset sides */
  Size = 28,
}

/** f64 fields of one worker's own stripe. */
export const enum WorkerStripe {
  /** ms since epoch */
  Heartbeat = 0,
  /** ms */
  LoopLag = 1,
  /** seconds */
  CpuUser = 2,
  /** seconds */
  CpuSystem = 3,
  Active = 4,
  Accepted = 5,
  Starts = 6,
  /** access lines of refused connections not written: over the worker's refusal line rate */
  AccessSuppressed = 7,
  /** exceptions caught on a connection's path (that connection reset) or that ended the worker */
  InternalErrors = 8,
  /** times accepting was paused because the process was out of file descriptors */
  FdAcceptPauses = 9,
  /** backend connects that failed with EMFILE/ENFILE (local, not the backend's) */
  FdConnectFailures = 10,
  /** 1 while the worker's listeners are paused for want of file descriptors */
  AcceptPaused = 11,
  /** 1 while the worker relays with the native relay, 0 with Node sockets */
  NativeRelay = 12,
  Size = 13,
}

/** f64 fields of one worker's stripe for one pool. */
export const enum PoolStripe {
  /** this worker's share of PoolI32.Queued, given back if the worker dies */
  QueuedHeld = 0,
  /** the ticket of this worker's oldest waiter in the pool, plus one; 0 when none waits here */
  QueueHead = 1,
  Size = 2,
}

/** i32 per-source fields of one listener slot. */
export const enum SourceListenerI32 {
  /** bumped when the slot is given to a new listener: older entries then match nobody */
  Epoch = 0,
  /** entries the listener holds, against its table_size (approximate under races) */
  Entries = 1,
  /** entries of this listener replaced by a new source */
  Evictions = 2,
  /** connections admitted untracked: no entry could be claimed in the probe window */
  Degraded = 3,
  Size = 4,
}

// Per entry, one 64-byte cache line. An entry is found by open addressing over a
// hash of (owner, key) in daemon/data/edge/source-index.ts; sources.ts says how
// each field changes atomically. After the entries, per worker, one Int32 per
// entry: the connections that worker holds on the entry (its share of
// SourceEntry.Active), given back when the worker dies, as BackendStripe.ActiveHeld.
/** i32 fields of one per-source entry. */
export const enum SourceEntry {
  /** version << 8 | writer: writer = worker + 1 while one rewrites the entry, 0 when stable */
  Tag = 0,
  /** eviction lock of the probe window that starts at this entry: worker + 1, 0 = free */
  Lock = 1,
  /** listener epoch << 11 | listener slot + 1; SOURCE_EMPTY; SOURCE_DEAD */
  Owner = 2,
  /** family << 8 | prefix, then the masked address as four words (IPv4: one, three zeros) */
  Key = 3,
  /** open connections (compareExchange against max_connections); SOURCE_LOCKED while replaced */
  Active = 8,
  /** token bucket fill, fixed point: one token = floor(2^30 / burst) */
  Tokens = 9,
  /** source clock (ms) up to which tokens were credited */
  Refill = 10,
  /** source clock (ms) of the last lookup: the least recently seen idle entry is replaced first */
  Seen = 11,
  /** connections admitted (uint32: wraps after 4.29e9) */
  Connections = 12,
  /** + SourceReject (3 reasons), uint32 each */
  Rejected = 13,
  /** elements in the slot: one 64-byte cache line */
  Size = 16,
}

/** Where histogram h's buckets start in a backend stripe (index = Histogram). */
export function histogramBase(h: Histogram): number {
  return h === Histogram.Connect
    ? BackendStripe.HistConnect
    : h === Histogram.FirstByte
      ? BackendStripe.HistFirstByte
      : BackendStripe.HistDuration;
}

// the sizes above that follow names.ts, checked once
const LAT_N = LATENCY_BUCKETS.length + 1;
const DUR_N = DURATION_BUCKETS.length + 1;
if (
  BackendStripe.HistSum + HISTOGRAM_NAMES.length > BackendStripe.HistConnect ||
  BackendStripe.ConnectErrors + CONNECT_ERROR_REASONS.length !== BackendStripe.Retries ||
  BackendStripe.HistFirstByte !== BackendStripe.HistConnect + LAT_N ||
  BackendStripe.HistDuration !== BackendStripe.HistFirstByte + LAT_N ||
  BackendStripe.Resets !== BackendStripe.HistDuration + DUR_N ||
  BackendStripe.ResponseErrors !== BackendStripe.Resets + RESET_SIDES.length ||
  BackendStripe.Size !== BackendStripe.ResponseErrors + RESPONSE_ERROR_REASONS.length ||
  ListenerStripe.Protocol !== ListenerStripe.Rejected + REJECT_REASONS.length ||
  ListenerStripe.PeekMisses !== ListenerStripe.Protocol + PROTOCOLS.length ||
  ListenerStripe.Resets !== ListenerStripe.PeekMisses + PEEK_MISS_REASONS.length ||
  ListenerStripe.Size !== ListenerStripe.Resets + RESET_SIDES.length ||
  SourceEntry.Key + KEY_WORDS > SourceEntry.Active ||
  SourceEntry.Rejected + SOURCE_REJECTS > SourceEntry.Size
) {
  throw new Error('state layout: a stripe or entry does not match the name lists in names.ts');
}

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
  private readonly psBase: number;
  private readonly seBase: number;
  private readonly shBase: number;

  constructor(cap: TableCapacity) {
    this.cap = Object.freeze({ ...cap });
    this.lBase = HeaderI32.Size;
    this.pBase = this.lBase + cap.listeners * ListenerI32.Size;
    this.bBase = this.pBase + cap.pools * PoolI32.Size;
    this.i32Length = this.bBase + cap.backends * BackendI32.Size;
    this.f64Start = alignBytes(this.i32Length * 4);
    this.bfBase = HeaderF64.Size;
    this.bsBase = align8(this.bfBase + cap.backends * BackendF64.Size);
    this.lsBase = align8(this.bsBase + cap.workers * cap.backends * BackendStripe.Size);
    this.wsBase = align8(this.lsBase + cap.workers * cap.listeners * ListenerStripe.Size);
    this.psBase = align8(this.wsBase + cap.workers * WorkerStripe.Size);
    this.f64Length = this.psBase + cap.workers * cap.pools * PoolStripe.Size;
    const n = cap.sources ?? 0;
    if (n !== 0 && (n & (n - 1)) !== 0) throw new Error(`state table: source entries must be a power of two, got ${n}`);
    if (n > MAX_SOURCE_ENTRIES) throw new Error(`state table: at most ${MAX_SOURCE_ENTRIES} source entries, got ${n}`);
    this.sources = n;
    this.srcStart = alignBytes(this.f64Start + this.f64Length * 8);
    this.seBase = alignBytes(cap.listeners * SourceListenerI32.Size * 4) / 4; // entries start on a cache line
    this.shBase = this.seBase + n * SourceEntry.Size;
    this.srcLength = n === 0 ? 0 : this.shBase + cap.workers * n;
    this.bytes = this.srcStart + this.srcLength * 4;
  }

  // ---- i32 ----
  /** Element offset of listener slot `i` in the i32 array. */
  listener(i: number): number {
    return this.lBase + i * ListenerI32.Size;
  }
  /** Element offset of pool slot `i` in the i32 array. */
  pool(i: number): number {
    return this.pBase + i * PoolI32.Size;
  }
  /** Element offset of backend slot `i` in the i32 array. */
  backend(i: number): number {
    return this.bBase + i * BackendI32.Size;
  }

  // ---- f64 ----
  /** Element offset of the header's floats in the f64 array. */
  headerF64(): number {
    return this.hfBase;
  }
  /** Element offset of backend `i`'s shared floats in the f64 array. */
  backendF64(i: number): number {
    return this.bfBase + i * BackendF64.Size;
  }
  /** Element offset of `worker`'s counter stripe for backend `i` in the f64 array. */
  backendStripe(worker: number, i: number): number {
    return this.bsBase + (worker * this.cap.backends + i) * BackendStripe.Size;
  }
  /** Element offset of `worker`'s counter stripe for listener `i` in the f64 array. */
  listenerStripe(worker: number, i: number): number {
    return this.lsBase + (worker * this.cap.listeners + i) * ListenerStripe.Size;
  }
  /** Element offset of `worker`'s own stripe in the f64 array. */
  workerStripe(worker: number): number {
    return this.wsBase + worker * WorkerStripe.Size;
  }
  /** Element offset of `worker`'s stripe for pool `i` in the f64 array. */
  poolStripe(worker: number, i: number): number {
    return this.psBase + (worker * this.cap.pools + i) * PoolStripe.Size;
  }

  // ---- src ----
  /** Element offset of listener slot `listener`'s per-source fields in the src array. */
  sourceListener(listener: number): number {
    return listener * SourceListenerI32.Size;
  }
  /** Element offset of per-source entry `i` in the src array. */
  sourceEntry(i: number): number {
    return this.seBase + i * SourceEntry.Size;
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
      i32('header', 0, HeaderI32.Size),
      i32('listeners', this.lBase, listeners * ListenerI32.Size),
      i32('pools', this.pBase, pools * PoolI32.Size),
      i32('backends', this.bBase, backends * BackendI32.Size),
      f64('header floats', this.hfBase, HeaderF64.Size),
      f64('backend floats', this.bfBase, backends * BackendF64.Size),
      f64('backend stripes', this.bsBase, workers * backends * BackendStripe.Size),
      f64('listener stripes', this.lsBase, workers * listeners * ListenerStripe.Size),
      f64('worker stripes', this.wsBase, workers * WorkerStripe.Size),
      f64('pool stripes', this.psBase, workers * pools * PoolStripe.Size),
      src('source listeners', 0, listeners * SourceListenerI32.Size),
      src('source entries', this.seBase, this.sources * SourceEntry.Size),
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
