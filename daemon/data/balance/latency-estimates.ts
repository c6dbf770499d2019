// Response time per backend that ages. The state table's EWMAs move only when a
// sample arrives, so a backend that gets no traffic keeps the last (perhaps cold,
// perhaps slow) value for good, and whoever reads it keeps avoiding it. Here each
// reader keeps its own estimate, fed by the samples the table's connect and
// first-byte histograms gained since it last looked (their counts and sums are
// exact, whichever worker wrote them), and weighted by time, not by sample count:
//
//   new samples, mean m, dt ms after the last:  ln v = w x ln v + (1 - w) x ln m
//       w = exp(-dt / decay) when m > v (slower), exp(-dt / recover) when faster
//   read at age a ms:                            freshness = exp(-a / decay)
//
// So an estimate refreshed every 100 ms averages about the last `decay` ms of
// samples whatever the rate, one that has seen nothing for a few `decay`s is
// replaced by its next sample rather than nudged by it, and readers can blend a
// stale value toward "unknown" by its freshness (least-response-time.ts does).
// The decay by time between samples is Finagle's "peak EWMA" (Twitter Finagle,
// finagle-core loadbalancer/PeakEwma.scala), there quick to penalize and slow to
// recover; here the other way round, see blend().
//
// Time comes in as a parameter: a worker passes its monotonic clock, the main
// thread its own. Each instance compares only times it was given itself.
import { Histogram } from '../../state/names.js';
import type { Table } from '../../state/table.js';

export interface LatencyOptions {
  /** ms: time constant for samples slower than the estimate, and for aging */
  decayMs: number;
  /** ms: time constant for samples faster than the estimate */
  recoverMs: number;
  /** ms: the histograms are read at most this often */
  refreshMs: number;
}

/** A batch of samples counts as at most this many times the estimate (see blend()). */
const RISE_LIMIT = 4;
/** ms: a sample below this is taken as this (a logarithm needs a floor) */
const MIN_MS = 0.001;

const LATENCY_DEFAULTS: Readonly<LatencyOptions> = Object.freeze({
  decayMs: 2000,
  recoverMs: 500,
  refreshMs: 100,
});

export class LatencyEstimates {
  /** the backend slots tracked, by index */
  readonly slots: Int32Array;
  private readonly table: Table;
  private readonly decayMs: number;
  private readonly recoverMs: number;
  private readonly refreshMs: number;
  private readonly index = new Map<number, number>();
  // histogram totals at the last look: connect count/sum, first-byte count/sum (seconds)
  private readonly seen: Float64Array;
  /** ms; NaN until the first sample */
  private readonly connect: Float64Array;
  private readonly firstByte: Float64Array;
  /** when the last connect sample was taken in; -Infinity before the first */
  private readonly sampledAt: Float64Array;
  private readonly firstByteAt: Float64Array;
  private lastRefresh = -Infinity;

  constructor(table: Table, slots: ArrayLike<number>, opts: Partial<LatencyOptions> = {}) {
    this.table = table;
    this.slots = Int32Array.from(slots);
    this.decayMs = opts.decayMs ?? LATENCY_DEFAULTS.decayMs;
    this.recoverMs = opts.recoverMs ?? LATENCY_DEFAULTS.recoverMs;
    this.refreshMs = opts.refreshMs ?? LATENCY_DEFAULTS.refreshMs;
    const n = this.slots.length;
    this.seen = new Float64Array(4 * n);
    this.connect = new Float64Array(n).fill(NaN);
    this.firstByte = new Float64Array(n).fill(NaN);
    this.sampledAt = new Float64Array(n).fill(-Infinity);
    this.firstByteAt = new Float64Array(n).fill(-Infinity);
    for (let i = 0; i < n; i++) this.index.set(this.slots[i]!, i);
  }

  /** The index of a tracked slot, or -1. */
  indexOf(slot: number): number {
    return this.index.get(slot) ?? -1;
  }

  /**
   * Take in the samples gained since the last look, if `refreshMs` has passed
   * (`now` in ms). They count as taken half way between the two looks, so the
   * samples of a long quiet spell read as old as they are; the first look only
   * sets the baseline, as the samples before it came at a time unknown.
   */
  refresh(now: number): void {
    const last = this.lastRefresh;
    if (now - last < this.refreshMs) return;
    this.lastRefresh = now;
    if (last === -Infinity) {
      for (let i = 0; i < this.slots.length; i++) this.rebase(i);
      return;
    }
    const at = last + (now - last) / 2;
    for (let i = 0; i < this.slots.length; i++) this.take(i, at);
  }

  /** Forget what is known of the backend at index i (its slot was given to another backend). */
  forget(i: number): void {
    this.connect[i] = NaN;
    this.firstByte[i] = NaN;
    this.sampledAt[i] = -Infinity;
    this.firstByteAt[i] = -Infinity;
    this.rebase(i);
  }

  /** ms: connect + first byte (connect alone for a backend that never sent a byte); NaN if never measured. */
  value(i: number): number {
    const c = this.connect[i]!;
    const f = this.firstByte[i]!;
    return f === f ? c + f : c;
  }

  /** ms since the last sample came in; Infinity if none ever did. */
  age(i: number, now: number): number {
    return now - this.sampledAt[i]!;
  }

  /** 1 for a sample just in, toward 0 as it ages; 0 if never measured. */
  freshness(i: number, now: number): number {
    const at = this.sampledAt[i]!;
    return at === -Infinity ? 0 : Math.exp(-Math.max(0, now - at) / this.decayMs);
  }

  private take(i: number, at: number): void {
    const slot = this.slots[i]!;
    const c = this.table.backendStats.histogram(slot, Histogram.Connect);
    const f = this.table.backendStats.histogram(slot, Histogram.FirstByte);
    const s = this.seen;
    const o = 4 * i;
    const dc = c.count - s[o]!;
    const df = f.count - s[o + 2]!;
    if (dc < 0 || df < 0) {
      // the slot was claimed again (counters zeroed): what we knew was another backend's
      this.forget(i);
      return;
    }
    if (dc > 0) {
      this.connect[i] = this.blend(this.connect[i]!, ((c.sum - s[o + 1]!) / dc) * 1000, at - this.sampledAt[i]!);
      this.sampledAt[i] = at;
    }
    if (df > 0) {
      this.firstByte[i] = this.blend(this.firstByte[i]!, ((f.sum - s[o + 3]!) / df) * 1000, at - this.firstByteAt[i]!);
      this.firstByteAt[i] = at;
    }
    s[o] = c.count;
    s[o + 1] = c.sum;
    s[o + 2] = f.count;
    s[o + 3] = f.sum;
  }

  // The average is taken of logarithms (a geometric mean): what matters between
  // backends is a ratio, so one 20x outlier weighs as one 20x outlier, not as
  // forty times the usual value. Slower samples move the estimate with the
  // longer time constant and faster ones with the shorter: a stall of the
  // host for a moment barely moves it while a backend that stays slow is seen
  // within a fraction of a second (a 10x slowdown is 10x in every sample), and
  // a backend that recovered is believed after a probe or two.
  private blend(old: number, mean: number, dt: number): number {
    let m = Math.max(mean, MIN_MS);
    if (old !== old) return m;
    // a batch counts as at most RISE_LIMIT x the estimate: a stall of the host that
    // held up one connection (its 200 ms in a batch of 2 ms answers) moves it a
    // little, where a backend that stays slower keeps pushing batch after batch
    if (m > old * RISE_LIMIT) m = old * RISE_LIMIT;
    const w = Math.exp(-dt / (m > old ? this.decayMs : this.recoverMs));
    return Math.exp(w * Math.log(old) + (1 - w) * Math.log(m));
  }

  private rebase(i: number): void {
    const slot = this.slots[i]!;
    const c = this.table.backendStats.histogram(slot, Histogram.Connect);
    const f = this.table.backendStats.histogram(slot, Histogram.FirstByte);
    const o = 4 * i;
    this.seen[o] = c.count;
    this.seen[o + 1] = c.sum;
    this.seen[o + 2] = f.count;
    this.seen[o + 3] = f.sum;
  }
}
