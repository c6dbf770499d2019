// The field indices of the state table: one `const enum` per kind of slot or
// stripe (its `Size` is the slot's length in elements), checked once against
// the name lists of names.ts. layout.ts says where each slot lives.
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
  Protocol = 13,
  /** + PeekMissReason index */
  PeekMisses = 22,
  /** + ResetSide index */
  Resets = 27,
  /** elements in the slot: 4 fields, 9 reject reasons, 9 protocols, 5 peek misses, 2 reset sides */
  Size = 29,
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
  /** 0: the worker relays with Node sockets; the native relay: 1 watched by the event loop, 2 waiting in its place */
  NativeRelay = 12,
  /** the soft file descriptor limit the worker applies, as it last read it (Infinity: unlimited; 0: not read yet) */
  FdLimit = 13,
  /** open connections an immediate stop cut with a reset (drain_timeout expired, a second stop signal) */
  StopCut = 14,
  /** clients waiting in the accept queue of a listening socket the stop closed: the kernel reset them */
  StopQueueReset = 15,
  Size = 16,
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
