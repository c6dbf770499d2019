// Per-backend traffic counters and histograms, in per-worker stripes: each worker
// adds to its own stripe with a plain `+=` (exact, never contended); the main
// thread sums the stripes. A stripe's S_ACTIVE_HELD field belongs to the
// connection slots (backends.ts), which give it back when a worker dies.
import {
  BACKEND_STRIPE,
  HIST_BASE,
  S_BYTES_IN,
  S_BYTES_OUT,
  S_CONNECT_ERRORS,
  S_CONNECTIONS,
  S_HIST_SUM,
  S_PASSIVE_FAILURES,
  S_RETRIES,
  type Layout,
} from './layout.js';
import { HISTOGRAM_BOUNDS, type ConnectErrorReason, type Histogram } from './names.js';

/** Totals summed over all workers' stripes. */
export interface BackendCounters {
  connections: number;
  /** bytes from clients to the backend */
  bytesIn: number;
  /** bytes from the backend to clients */
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
  /** seconds */
  sum: number;
  count: number;
}

export class BackendStatsView {
  constructor(
    private readonly f64: Float64Array,
    private readonly at: Layout,
  ) {}

  /** Zero every worker's stripe of slot `i` (a slot given to a new backend). Main thread. */
  reset(i: number): void {
    for (let w = 0; w < this.at.cap.workers; w++) {
      const s = this.at.backendStripe(w, i);
      this.f64.fill(0, s, s + BACKEND_STRIPE);
    }
  }
  /** A connection to the backend was established. */
  countConnection(worker: number, i: number): void {
    this.f64[this.at.backendStripe(worker, i) + S_CONNECTIONS]! += 1;
  }
  /** Bytes from clients relayed to the backend. */
  addBytesIn(worker: number, i: number, n: number): void {
    this.f64[this.at.backendStripe(worker, i) + S_BYTES_IN]! += n;
  }
  /** Bytes from the backend relayed to clients. */
  addBytesOut(worker: number, i: number, n: number): void {
    this.f64[this.at.backendStripe(worker, i) + S_BYTES_OUT]! += n;
  }
  countConnectError(worker: number, i: number, reason: ConnectErrorReason): void {
    const k = reason === 'refused' ? 0 : reason === 'timeout' ? 1 : 2;
    this.f64[this.at.backendStripe(worker, i) + S_CONNECT_ERRORS + k]! += 1;
  }
  countRetry(worker: number, i: number): void {
    this.f64[this.at.backendStripe(worker, i) + S_RETRIES]! += 1;
  }
  countPassiveFailure(worker: number, i: number): void {
    this.f64[this.at.backendStripe(worker, i) + S_PASSIVE_FAILURES]! += 1;
  }
  /** Record one sample, in seconds, into a fixed-bucket histogram. */
  observe(worker: number, i: number, h: Histogram, seconds: number): void {
    const s = this.at.backendStripe(worker, i);
    const bounds = HISTOGRAM_BOUNDS[h]!;
    let k = 0;
    while (k < bounds.length && seconds > bounds[k]!) k++;
    this.f64[s + HIST_BASE[h] + k]! += 1;
    this.f64[s + S_HIST_SUM + h]! += seconds;
  }
  /** Totals over all workers' stripes (main thread). */
  counters(i: number): BackendCounters {
    const c: BackendCounters = {
      connections: 0,
      bytesIn: 0,
      bytesOut: 0,
      connectErrors: { refused: 0, timeout: 0, other: 0 },
      retries: 0,
      passiveFailures: 0,
    };
    for (let w = 0; w < this.at.cap.workers; w++) {
      const s = this.at.backendStripe(w, i);
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
  /** Histogram h summed over all workers' stripes (main thread). */
  histogram(i: number, h: Histogram): HistogramSnapshot {
    const bounds = HISTOGRAM_BOUNDS[h]!;
    const counts = new Array<number>(bounds.length + 1).fill(0);
    let sum = 0;
    for (let w = 0; w < this.at.cap.workers; w++) {
      const s = this.at.backendStripe(w, i);
      for (let k = 0; k < counts.length; k++) counts[k]! += this.f64[s + HIST_BASE[h] + k]!;
      sum += this.f64[s + S_HIST_SUM + h]!;
    }
    return { bounds, counts, sum, count: counts.reduce((a, b) => a + b, 0) };
  }
}
