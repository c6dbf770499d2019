// Per-second rates and windowed latency percentiles, sampled from the table on
// the main thread once a second, so that every consumer shows the same numbers.
import { Histogram, LATENCY_BUCKETS } from '../state/names.js';
import type { Table } from '../state/table.js';
import { quantile, subtractCounts } from '../state/quantile.js';
import type { Percentiles, Rates } from './snapshot/snapshot.js';

interface Sample {
  time: number;
  connections: number;
  bytesIn: number;
  bytesOut: number;
  errors: number;
  retries: number;
  connectHist: number[];
  firstByteHist: number[];
}

const ZERO_RATES: Rates = { connections: 0, bytesIn: 0, bytesOut: 0, errors: 0, retries: 0 };
const ZERO_P: Percentiles = { p50: 0, p95: 0, p99: 0 };

/** Percentiles are computed over this many seconds of samples. */
const LATENCY_WINDOW_S = 30;

export interface BackendWindow {
  rates: Rates;
  connectMs: Percentiles;
  firstByteMs: Percentiles;
}

export class RateTracker {
  /** per backend slot: samples, oldest first, at most LATENCY_WINDOW_S + 1 */
  private readonly samples = new Map<number, Sample[]>();
  private readonly windows = new Map<number, BackendWindow>();

  constructor(private readonly table: Table) {}

  /** Take a sample of every slot given; forget slots not given. */
  sample(slots: Iterable<number>, now: number): void {
    const seen = new Set<number>();
    for (const slot of slots) {
      seen.add(slot);
      const c = this.table.backendStats.counters(slot);
      const s: Sample = {
        time: now,
        connections: c.connections,
        bytesIn: c.bytesIn,
        bytesOut: c.bytesOut,
        errors: c.connectErrors.refused + c.connectErrors.timeout + c.connectErrors.other,
        retries: c.retries,
        connectHist: this.table.backendStats.histogram(slot, Histogram.Connect).counts,
        firstByteHist: this.table.backendStats.histogram(slot, Histogram.FirstByte).counts,
      };
      let list = this.samples.get(slot);
      if (!list) this.samples.set(slot, (list = []));
      list.push(s);
      if (list.length > LATENCY_WINDOW_S + 1) list.shift();
      this.windows.set(slot, computeWindow(list));
    }
    for (const slot of [...this.samples.keys()]) {
      if (!seen.has(slot)) {
        this.samples.delete(slot);
        this.windows.delete(slot);
      }
    }
  }

  window(slot: number): BackendWindow {
    return this.windows.get(slot) ?? { rates: ZERO_RATES, connectMs: ZERO_P, firstByteMs: ZERO_P };
  }

  /** Raw windowed histogram deltas (connect + first byte), for alert rules. */
  latencyCounts(slot: number): { connect: number[]; firstByte: number[] } | null {
    const list = this.samples.get(slot);
    if (!list || list.length < 2) return null;
    const a = list[0]!;
    const b = list[list.length - 1]!;
    return {
      connect: subtractCounts(b.connectHist, a.connectHist),
      firstByte: subtractCounts(b.firstByteHist, a.firstByteHist),
    };
  }
}

function computeWindow(list: Sample[]): BackendWindow {
  const b = list[list.length - 1]!;
  if (list.length < 2) return { rates: ZERO_RATES, connectMs: ZERO_P, firstByteMs: ZERO_P };
  const prev = list[list.length - 2]!;
  const dt = (b.time - prev.time) / 1000 || 1;
  const rates: Rates = {
    connections: (b.connections - prev.connections) / dt,
    bytesIn: (b.bytesIn - prev.bytesIn) / dt,
    bytesOut: (b.bytesOut - prev.bytesOut) / dt,
    errors: (b.errors - prev.errors) / dt,
    retries: (b.retries - prev.retries) / dt,
  };
  const a = list[0]!;
  return {
    rates,
    connectMs: percentiles(subtractCounts(b.connectHist, a.connectHist)),
    firstByteMs: percentiles(subtractCounts(b.firstByteHist, a.firstByteHist)),
  };
}

function percentiles(counts: number[]): Percentiles {
  const ms = (q: number): number => Math.round(quantile(LATENCY_BUCKETS, counts, q) * 1e6) / 1e3;
  return { p50: ms(0.5), p95: ms(0.95), p99: ms(0.99) };
}

export function sumRates(list: Rates[]): Rates {
  const r = { ...ZERO_RATES };
  for (const x of list) {
    r.connections += x.connections;
    r.bytesIn += x.bytesIn;
    r.bytesOut += x.bytesOut;
    r.errors += x.errors;
    r.retries += x.retries;
  }
  return r;
}

/** Rates of a set of monotonic counters under one key (listeners, pools). */
export class CounterRates {
  private readonly last = new Map<string, { time: number; v: Rates }>();
  private readonly rates = new Map<string, Rates>();

  sample(key: string, totals: Rates, now: number): void {
    const prev = this.last.get(key);
    this.last.set(key, { time: now, v: totals });
    if (!prev) return;
    const dt = (now - prev.time) / 1000 || 1;
    this.rates.set(key, {
      connections: (totals.connections - prev.v.connections) / dt,
      bytesIn: (totals.bytesIn - prev.v.bytesIn) / dt,
      bytesOut: (totals.bytesOut - prev.v.bytesOut) / dt,
      errors: (totals.errors - prev.v.errors) / dt,
      retries: (totals.retries - prev.v.retries) / dt,
    });
  }

  get(key: string): Rates {
    return this.rates.get(key) ?? ZERO_RATES;
  }

  /**
   * Samples each listener's totals under `listener/<name>` (connections accepted,
   * bytes, refusals of every reason as errors) and forgets listeners no longer given.
   */
  sampleListeners(table: Table, listeners: readonly (readonly [name: string, slot: number])[], now: number): void {
    const keep = new Set<string>();
    for (const [name, slot] of listeners) {
      const c = table.listeners.counters(slot);
      const key = `listener/${name}`;
      keep.add(key);
      const rejected = Object.values(c.rejected).reduce((a, b) => a + b, 0);
      this.sample(
        key,
        { connections: c.accepted, bytesIn: c.bytesIn, bytesOut: c.bytesOut, errors: rejected, retries: 0 },
        now,
      );
    }
    this.forget(keep);
  }

  private forget(keep: Set<string>): void {
    for (const k of [...this.last.keys()]) {
      if (!keep.has(k)) {
        this.last.delete(k);
        this.rates.delete(k);
      }
    }
  }
}
