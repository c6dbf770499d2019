// Listener slots: whether a listener is configured and accepting, its open
// connections against max_connections (one Int32 shared by all workers), and the
// per-worker stripes of what it accepted, refused and carried.
import { type Layout } from './layout.js';
import { ListenerI32, ListenerStripe } from './fields.js';
import {
  PEEK_MISS_REASONS,
  PROTOCOLS,
  REJECT_REASONS,
  RESET_SIDES,
  type PeekMissReason,
  type Protocol,
  type RejectReason,
  type ResetSide,
} from './names.js';
import type { SourcesView } from './sources.js';

/** A listener's counters, summed over all workers' stripes. */
export interface ListenerCounters {
  accepted: number;
  /** bytes from clients */
  bytesIn: number;
  /** bytes to clients */
  bytesOut: number;
  rejected: Record<RejectReason, number>;
  protocols: Record<Protocol, number>;
  /** peeks on a routing listener that ended without a verdict (the listener's pool was used) */
  peekMisses: Record<PeekMissReason, number>;
  /** connections reset by the client or by the backend, in any phase */
  resets: Record<ResetSide, number>;
}

export class ListenersView {
  constructor(
    private readonly i32: Int32Array,
    private readonly f64: Float64Array,
    private readonly at: Layout,
    private readonly sources: SourcesView,
  ) {}

  /** Claim slot `i` for a listener: enabled, limited to `maxConnections` (0 = no limit). Main thread. */
  init(i: number, maxConnections: number): void {
    const b = this.at.listener(i);
    Atomics.store(this.i32, b + ListenerI32.MaxConnections, maxConnections);
    Atomics.store(this.i32, b + ListenerI32.Enabled, 1);
    Atomics.store(this.i32, b + ListenerI32.InUse, 1);
  }
  free(i: number): void {
    Atomics.store(this.i32, this.at.listener(i) + ListenerI32.InUse, 0);
  }
  inUse(i: number): boolean {
    return Atomics.load(this.i32, this.at.listener(i) + ListenerI32.InUse) === 1;
  }
  /** 0 = no limit */
  setMaxConnections(i: number, n: number): void {
    Atomics.store(this.i32, this.at.listener(i) + ListenerI32.MaxConnections, n);
  }
  /** False while an operator has disabled the listener: workers refuse its clients. */
  enabled(i: number): boolean {
    return Atomics.load(this.i32, this.at.listener(i) + ListenerI32.Enabled) === 1;
  }
  setEnabled(i: number, on: boolean): void {
    Atomics.store(this.i32, this.at.listener(i) + ListenerI32.Enabled, on ? 1 : 0);
  }
  /** Open connections on the listener, all workers. */
  active(i: number): number {
    return Atomics.load(this.i32, this.at.listener(i) + ListenerI32.Active);
  }
  /** 0 = no limit */
  maxConnections(i: number): number {
    return Atomics.load(this.i32, this.at.listener(i) + ListenerI32.MaxConnections);
  }
  /** Take a connection slot on a listener; false when it is at max_connections. */
  acquire(worker: number, i: number): boolean {
    const b = this.at.listener(i);
    const at = b + ListenerI32.Active;
    const max = Atomics.load(this.i32, b + ListenerI32.MaxConnections);
    if (max === 0) Atomics.add(this.i32, at, 1);
    else {
      let cur = Atomics.load(this.i32, at);
      for (;;) {
        if (cur >= max) return false;
        const seen = Atomics.compareExchange(this.i32, at, cur, cur + 1);
        if (seen === cur) break;
        cur = seen;
      }
    }
    const s = this.at.listenerStripe(worker, i);
    this.f64[s + ListenerStripe.ActiveHeld]! += 1;
    this.f64[s + ListenerStripe.Accepted]! += 1;
    return true;
  }
  /** Give back a slot taken by acquire(). */
  release(worker: number, i: number): void {
    Atomics.sub(this.i32, this.at.listener(i) + ListenerI32.Active, 1);
    this.f64[this.at.listenerStripe(worker, i) + ListenerStripe.ActiveHeld]! -= 1;
  }
  /** `n` (1 unless said) connections refused on listener `i` for `reason`. */
  countRejected(worker: number, i: number, reason: RejectReason, n = 1): void {
    this.f64[this.at.listenerStripe(worker, i) + ListenerStripe.Rejected + REJECT_REASONS.indexOf(reason)]! += n;
  }
  countProtocol(worker: number, i: number, protocol: Protocol): void {
    this.f64[this.at.listenerStripe(worker, i) + ListenerStripe.Protocol + PROTOCOLS.indexOf(protocol)]! += 1;
  }
  /** Index in the table's f64 region (Table.f64) of `worker`'s bytes-in counter of listener `i`. */
  bytesInIndex(worker: number, i: number): number {
    return this.at.listenerStripe(worker, i) + ListenerStripe.BytesIn;
  }
  /** Index in the table's f64 region (Table.f64) of `worker`'s bytes-out counter of listener `i`. */
  bytesOutIndex(worker: number, i: number): number {
    return this.at.listenerStripe(worker, i) + ListenerStripe.BytesOut;
  }
  /** A routing peek ended without a verdict. */
  countPeekMiss(worker: number, i: number, reason: PeekMissReason): void {
    this.f64[this.at.listenerStripe(worker, i) + ListenerStripe.PeekMisses + PEEK_MISS_REASONS.indexOf(reason)]! += 1;
  }
  /** A connection was reset by `side` (counted once per connection). */
  countReset(worker: number, i: number, side: ResetSide): void {
    this.f64[this.at.listenerStripe(worker, i) + ListenerStripe.Resets + (side === 'client' ? 0 : 1)]! += 1;
  }
  /** Bytes from clients; counted per chunk, as backend bytes are, so listener and pool rates agree on long connections. */
  addBytesIn(worker: number, i: number, n: number): void {
    this.f64[this.at.listenerStripe(worker, i) + ListenerStripe.BytesIn]! += n;
  }
  /** Bytes to clients, per chunk. */
  addBytesOut(worker: number, i: number, n: number): void {
    this.f64[this.at.listenerStripe(worker, i) + ListenerStripe.BytesOut]! += n;
  }
  /** Totals over all workers' stripes (main thread). */
  counters(i: number): ListenerCounters {
    const rejected = zeroRecord(REJECT_REASONS);
    const protocols = zeroRecord(PROTOCOLS);
    const peekMisses = zeroRecord(PEEK_MISS_REASONS);
    const resets = zeroRecord(RESET_SIDES);
    let accepted = 0;
    let bytesIn = 0;
    let bytesOut = 0;
    for (let w = 0; w < this.at.cap.workers; w++) {
      const s = this.at.listenerStripe(w, i);
      accepted += this.f64[s + ListenerStripe.Accepted]!;
      bytesIn += this.f64[s + ListenerStripe.BytesIn]!;
      bytesOut += this.f64[s + ListenerStripe.BytesOut]!;
      REJECT_REASONS.forEach((r, k) => (rejected[r] += this.f64[s + ListenerStripe.Rejected + k]!));
      PROTOCOLS.forEach((p, k) => (protocols[p] += this.f64[s + ListenerStripe.Protocol + k]!));
      PEEK_MISS_REASONS.forEach((r, k) => (peekMisses[r] += this.f64[s + ListenerStripe.PeekMisses + k]!));
      RESET_SIDES.forEach((r, k) => (resets[r] += this.f64[s + ListenerStripe.Resets + k]!));
    }
    return { accepted, bytesIn, bytesOut, rejected, protocols, peekMisses, resets };
  }
  /** Zero a listener slot's counters before it is reused for a new listener. */
  reset(i: number): void {
    for (let w = 0; w < this.at.cap.workers; w++) {
      const s = this.at.listenerStripe(w, i);
      this.f64.fill(0, s, s + ListenerStripe.Size);
    }
    const b = this.at.listener(i);
    this.i32.fill(0, b, b + ListenerI32.Size);
    // the previous listener's sources stay until replaced, but no longer match
    this.sources.resetListener(i);
  }
  /**
   * A worker died: give back the connection slots it held on every listener.
   * Returns how many. Main thread only, after the worker's exit (its stripes have no writer then).
   */
  releaseWorker(worker: number): number {
    let released = 0;
    for (let i = 0; i < this.at.cap.listeners; i++) {
      const s = this.at.listenerStripe(worker, i) + ListenerStripe.ActiveHeld;
      const held = this.f64[s]!;
      if (held !== 0) {
        Atomics.sub(this.i32, this.at.listener(i) + ListenerI32.Active, held);
        this.f64[s] = 0;
        released += held;
      }
    }
    return released;
  }
}

function zeroRecord<K extends string>(keys: readonly K[]): Record<K, number> {
  const r = {} as Record<K, number>;
  for (const k of keys) r[k] = 0;
  return r;
}
