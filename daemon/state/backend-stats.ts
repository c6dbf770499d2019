// Per-backend traffic counters and histograms, in per-worker stripes: each worker
// adds to its own stripe with a plain `+=` (exact, never contended); the main
// thread sums the stripes. A stripe's S_ACTIVE_HELD field belongs to the
// connection slots (backends.ts), which give it back when a worker dies.
import { type Layout } from './layout.js';
import { BackendStripe, histogramBase } from './fields.js';
import {
  HISTOGRAM_BOUNDS,
  type ConnectErrorReason,
  type Histogram,
  type ResetSide,
  type ResponseErrorReason,
} from './names.js';

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
  /** relayed connections to the backend reset by the client / by the backend */
  resets: Record<ResetSide, number>;
  /** the backend took the connection and failed it: closed empty, or nothing within timeouts.first_byte */
  responseErrors: Record<ResponseErrorReason, number>;
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
  /** bucket bounds per histogram, seconds (kept on the instance: read on every observe) */
  private readonly bounds = HISTOGRAM_BOUNDS;

  constructor(
    private readonly f64: Float64Array,
    private readonly at: Layout,
  ) {}

  /** Zero every worker's stripe of slot `i` (a slot given to a new backend). Main thread. */
  reset(i: number): void {
    for (let w = 0; w < this.at.cap.workers; w++) {
      const s = this.at.backendStripe(w, i);
      this.f64.fill(0, s, s + BackendStripe.Size);
    }
  }
  /** A connection to the backend was established. */
  countConnection(worker: number, i: number): void {
    this.f64[this.at.backendStripe(worker, i) + BackendStripe.Connections]! += 1;
  }
  /** Index in the table's f64 region (Table.f64) of `worker`'s bytes-in counter of backend `i`. */
  bytesInIndex(worker: number, i: number): number {
    return this.at.backendStripe(worker, i) + BackendStripe.BytesIn;
  }
  /** Index in the table's f64 region (Table.f64) of `worker`'s bytes-out counter of backend `i`. */
  bytesOutIndex(worker: number, i: number): number {
    return this.at.backendStripe(worker, i) + BackendStripe.BytesOut;
  }
  /** Bytes from clients relayed to the backend. */
  addBytesIn(worker: number, i: number, n: number): void {
    this.f64[this.at.backendStripe(worker, i) + BackendStripe.BytesIn]! += n;
  }
  /** Bytes from the backend relayed to clients. */
  addBytesOut(worker: number, i: number, n: number): void {
    this.f64[this.at.backendStripe(worker, i) + BackendStripe.BytesOut]! += n;
  }
  countConnectError(worker: number, i: number, reason: ConnectErrorReason): void {
    const k = reason === 'refused' ? 0 : reason === 'timeout' ? 1 : 2;
    this.f64[this.at.backendStripe(worker, i) + BackendStripe.ConnectErrors + k]! += 1;
  }
  countRetry(worker: number, i: number): void {
    this.f64[this.at.backendStripe(worker, i) + BackendStripe.Retries]! += 1;
  }
  /** A relayed connection to the backend was reset by `side`. */
  countReset(worker: number, i: number, side: ResetSide): void {
    this.f64[this.at.backendStripe(worker, i) + BackendStripe.Resets + (side === 'client' ? 0 : 1)]! += 1;
  }
  countResponseError(worker: number, i: number, reason: ResponseErrorReason): void {
    this.f64[this.at.backendStripe(worker, i) + BackendStripe.ResponseErrors + (reason === 'empty' ? 0 : 1)]! += 1;
  }
  countPassiveFailure(worker: number, i: number): void {
    this.f64[this.at.backendStripe(worker, i) + BackendStripe.PassiveFailures]! += 1;
  }
  /** Record one sample, in seconds, into a fixed-bucket histogram. */
  observe(worker: number, i: number, h: Histogram, seconds: number): void {
    const s = this.at.backendStripe(worker, i);
    const bounds = this.bounds[h]!;
    let k = 0;
    while (k < bounds.length && seconds > bounds[k]!) k++;
    this.f64[s + histogramBase(h) + k]! += 1;
    this.f64[s + BackendStripe.HistSum + h]! += seconds;
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
      resets: { client: 0, backend: 0 },
      responseErrors: { empty: 0, timeout: 0 },
    };
    for (let w = 0; w < this.at.cap.workers; w++) {
      const s = this.at.backendStripe(w, i);
      c.connections += this.f64[s + BackendStripe.Connections]!;
      c.bytesIn += this.f64[s + BackendStripe.BytesIn]!;
      c.bytesOut += this.f64[s + BackendStripe.BytesOut]!;
      c.connectErrors.refused += this.f64[s + BackendStripe.ConnectErrors]!;
      c.connectErrors.timeout += this.f64[s + BackendStripe.ConnectErrors + 1]!;
      c.connectErrors.other += this.f64[s + BackendStripe.ConnectErrors + 2]!;
      c.retries += this.f64[s + BackendStripe.Retries]!;
      c.passiveFailures += this.f64[s + BackendStripe.PassiveFailures]!;
      c.resets.client += this.f64[s + BackendStripe.Resets]!;
      c.resets.backend += this.f64[s + BackendStripe.Resets + 1]!;
      c.responseErrors.empty += this.f64[s + BackendStripe.ResponseErrors]!;
      c.responseErrors.timeout += this.f64[s + BackendStripe.ResponseErrors + 1]!;
    }
    return c;
  }
  /** Histogram h summed over all workers' stripes (main thread). */
  histogram(i: number, h: Histogram): HistogramSnapshot {
    const bounds = this.bounds[h]!;
    const counts = new Array<number>(bounds.length + 1).fill(0);
    let sum = 0;
    for (let w = 0; w < this.at.cap.workers; w++) {
      const s = this.at.backendStripe(w, i);
      for (let k = 0; k < counts.length; k++) counts[k]! += this.f64[s + histogramBase(h) + k]!;
      sum += this.f64[s + BackendStripe.HistSum + h]!;
    }
    return { bounds, counts, sum, count: counts.reduce((a, b) => a + b, 0) };
  }
}
