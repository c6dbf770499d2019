// THE shared-memory layout: the offset of every slot, stripe and region in the
// state table's SharedArrayBuffer, computed here and nowhere else (the field
// indices within a slot are fields.ts's). The views (header.ts, listeners.ts, ...)
// name a field as `layout.backend(i) + BackendI32.Active`; they never multiply or
// add sizes themselves.
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
  BackendF64,
  BackendI32,
  BackendStripe,
  HeaderF64,
  HeaderI32,
  ListenerI32,
  ListenerStripe,
  PoolI32,
  PoolStripe,
  SourceEntry,
  SourceListenerI32,
  WorkerStripe,
} from './fields.js';

/** "nm01": the first i32 of a table; a worker attaching to anything else fails. */
export const MAGIC = 0x6e6d3031;
/** bytes */
export const CACHE_LINE = 64;
/** Largest per-source table: 2^24 entries (1 GiB of entries). */
export const MAX_SOURCE_ENTRIES = 1 << 24;

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
