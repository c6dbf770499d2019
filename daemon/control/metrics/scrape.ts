// What one scrape reads: a single snapshot (taken once, shared by every family
// of the scrape) and the state table for what the snapshot does not carry
// (raw histogram buckets, health-check counters). Nothing here messages a worker.
import { Histogram } from '../../state/names.js';
import type { BackendCounters, HistogramSnapshot } from '../../state/backend-stats.js';
import type { SourceListenerStats } from '../../state/sources.js';
import type { Table } from '../../state/table.js';
import type { BackendSnapshot, ListenerSnapshot, Snapshot } from '../snapshot/snapshot.js';

export interface BackendView {
  labels: { pool: string; backend: string };
  snap: BackendSnapshot;
  counters: BackendCounters;
  /** undefined when the snapshot carries no table slot */
  histogram(h: Histogram): HistogramSnapshot | undefined;
  checks: { checks: number; failures: number } | undefined;
}

export interface ListenerView {
  labels: { listener: string };
  snap: ListenerSnapshot;
  accepted: number;
  bytesIn: number;
  bytesOut: number;
  rejected: Record<string, number>;
  protocols: Record<string, number>;
  peekMisses: Record<string, number>;
  resets: Record<string, number>;
  /** the listener's share of the per-source table (zeros when it tracks no sources) */
  sources: SourceListenerStats;
}

/** Table slots by name; a snapshot built without slots is resolved through this. */
export interface SlotLookup {
  backend(key: string): number | undefined;
  listener(name: string): number | undefined;
}

export interface ScrapeView {
  table: Table;
  snap: Snapshot;
  backends: BackendView[];
  listeners: ListenerView[];
}

/**
 * Memoises one ScrapeView per scrape. prom-client calls every family's get()
 * synchronously at the start of Registry#metrics(), so a view dropped on the
 * next macrotask is shared by exactly one scrape.
 */
export class ScrapeSource {
  private current: ScrapeView | null = null;

  constructor(
    private readonly table: Table,
    private readonly snapshot: () => Snapshot,
    private readonly slots?: SlotLookup,
  ) {}

  view(): ScrapeView {
    if (this.current) return this.current;
    const view = buildView(this.table, this.snapshot(), this.slots);
    this.current = view;
    setImmediate(() => {
      if (this.current === view) this.current = null;
    });
    return view;
  }
}

function buildView(table: Table, snap: Snapshot, slots?: SlotLookup): ScrapeView {
  const seen = new Set<string>();
  const backends: BackendView[] = [];
  for (const b of snap.backends) {
    // a backend removed and re-added by reloads must not yield duplicate series
    if (seen.has(b.key)) continue;
    seen.add(b.key);
    backends.push(backendView(table, b, b.slot ?? slots?.backend(b.key)));
  }
  const listeners = snap.listeners.map((l) => listenerView(table, l, l.slot ?? slots?.listener(l.name)));
  return { table, snap, backends, listeners };
}

function backendView(table: Table, b: BackendSnapshot, slot: number | undefined): BackendView {
  const labels = { pool: b.pool, backend: b.name };
  if (slot === undefined) {
    return {
      labels,
      snap: b,
      counters: {
        connections: b.connections,
        bytesIn: b.bytesIn,
        bytesOut: b.bytesOut,
        connectErrors: b.connectErrors,
        retries: b.retries,
        passiveFailures: b.passiveFailures,
        resets: b.resets,
        responseErrors: b.responseErrors,
      },
      histogram: () => undefined,
      checks: undefined,
    };
  }
  return {
    labels,
    snap: b,
    counters: table.backendStats.counters(slot),
    histogram: (h) => table.backendStats.histogram(slot, h),
    checks: table.backends.checkCounts(slot),
  };
}

function listenerView(table: Table, l: ListenerSnapshot, slot: number | undefined): ListenerView {
  const labels = { listener: l.name };
  if (slot === undefined) {
    return {
      labels,
      snap: l,
      accepted: l.accepted,
      bytesIn: l.bytesIn,
      bytesOut: l.bytesOut,
      rejected: l.rejected,
      protocols: l.protocols,
      peekMisses: l.peekMisses,
      resets: l.resets,
      sources: { entries: 0, evictions: 0, degraded: 0 },
    };
  }
  const c = table.listeners.counters(slot);
  return {
    labels,
    snap: l,
    accepted: c.accepted,
    bytesIn: c.bytesIn,
    bytesOut: c.bytesOut,
    rejected: c.rejected,
    protocols: c.protocols,
    peekMisses: c.peekMisses,
    resets: c.resets,
    sources: table.sources.listenerStats(slot),
  };
}
