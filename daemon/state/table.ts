// The state table: one SharedArrayBuffer that the main thread allocates and every
// worker attaches to, seen through one typed view per region. Where each field
// lives is in fields.ts (its index in a slot) and layout.ts (the only place that knows
// offsets); what each state and reason is called is in names.ts.
//
//   table.header        generation, reload record, start time
//   table.listeners     listener slots and per-worker listener stripes
//   table.pools         pool slots: algorithm, version, cursor, adaptive choice, queue gauge
//   table.backends      backend slots: state, weights, connection slots, checks
//   table.backendStats  per-worker backend counters and histograms
//   table.workers       per-worker heartbeat, lag, CPU, connections
//   table.sources       the per-source region (daemon/data/edge/source-index.ts finds entries)
import { BackendStatsView } from './backend-stats.js';
import { BackendsView } from './backends.js';
import { HeaderView } from './header.js';
import { Layout, type TableCapacity } from './layout.js';
import { ListenersView } from './listeners.js';
import { PoolsView } from './pools.js';
import { SourcesView } from './sources.js';
import { WorkersView } from './workers.js';

export class Table {
  readonly buffer: SharedArrayBuffer;
  readonly cap: Readonly<TableCapacity>;
  readonly layout: Layout;
  readonly header: HeaderView;
  readonly listeners: ListenersView;
  readonly pools: PoolsView;
  readonly backends: BackendsView;
  readonly backendStats: BackendStatsView;
  readonly workers: WorkersView;
  readonly sources: SourcesView;
  /**
   * The f64 region itself, for the native relay, which adds a connection's
   * bytes to its listener and backend stripes in place (indices from
   * the bytesInIndex and bytesOutIndex of ListenersView and BackendStatsView).
   */
  readonly f64: Float64Array;

  /**
   * Allocate a new table (main thread) or attach to an existing buffer (workers).
   * Throws (plain Error) when `buffer` is not a table of this capacity, or when
   * `cap.sources` is not 0 or a power of two up to MAX_SOURCE_ENTRIES.
   */
  constructor(cap: TableCapacity, buffer?: SharedArrayBuffer) {
    const layout = new Layout(cap);
    this.layout = layout;
    this.cap = layout.cap;
    if (buffer) {
      if (buffer.byteLength !== layout.bytes) {
        throw new Error(`state table size mismatch: ${buffer.byteLength} != ${layout.bytes}`);
      }
      this.buffer = buffer;
    } else {
      this.buffer = new SharedArrayBuffer(layout.bytes);
    }
    const i32 = new Int32Array(this.buffer, 0, layout.i32Length);
    const f64 = new Float64Array(this.buffer, layout.f64Start, layout.f64Length);
    this.f64 = f64;
    const src = new Int32Array(this.buffer, layout.srcStart, layout.srcLength);
    this.header = new HeaderView(i32, f64, layout);
    this.sources = new SourcesView(src, layout);
    this.listeners = new ListenersView(i32, f64, layout, this.sources);
    this.pools = new PoolsView(i32, f64, layout);
    this.backendStats = new BackendStatsView(f64, layout);
    this.backends = new BackendsView(i32, f64, layout, this.pools, this.backendStats);
    this.workers = new WorkersView(f64, layout);
    if (!buffer) this.header.stamp(Date.now());
    else if (!this.header.hasMagic()) throw new Error('state table: bad magic');
  }

  /** bytes */
  get byteLength(): number {
    return this.buffer.byteLength;
  }

  /**
   * A worker is gone: give back every reservation its connections still held
   * (backend and listener slots, queue places, per-source counts, its open
   * count), so the shared counts stay true, and undo a per-source rewrite it
   * left half done. Returns what was given back: all zero after a worker that
   * closed its connections itself. Main thread only, after the worker's exit
   * (its stripes have no writer then).
   */
  releaseWorker(worker: number): Reclaimed {
    return {
      backends: this.backends.releaseWorker(worker),
      listeners: this.listeners.releaseWorker(worker),
      queued: this.pools.releaseWorker(worker),
      sources: this.sources.capacity > 0 ? this.sources.releaseWorker(worker) : 0,
      connections: this.workers.releaseWorker(worker),
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
