// Listener slots: whether a listener is configured and accepting, its open
// connections against max_connections (one Int32 shared by all workers), and the
// per-worker stripes of what it accepted, refused and carried.
import {
  L_ACTIVE,
  L_ENABLED,
  L_IN_USE,
  L_MAXCONN,
  LISTENER_I32,
  LISTENER_STRIPE,
  LS_ACCEPTED,
  LS_ACTIVE_HELD,
  LS_BYTES_IN,
  LS_BYTES_OUT,
  LS_PROTOCOL,
  LS_REJECTED,
  type Layout,
} from './layout.js';
import { PROTOCOLS, REJECT_REASONS, type Protocol, type RejectReason } from './names.js';
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
    Atomics.store(this.i32, b + L_MAXCONN, maxConnections);
    Atomics.store(this.i32, b + L_ENABLED, 1);
    Atomics.store(this.i32, b + L_IN_USE, 1);
  }
  free(i: number): void {
    Atomics.store(this.i32, this.at.listener(i) + L_IN_USE, 0);
  }
  inUse(i: number): boolean {
    return Atomics.load(this.i32, this.at.listener(i) + L_IN_USE) === 1;
  }
  /** 0 = no limit */
  setMaxConnections(i: number, n: number): void {
    Atomics.store(this.i32, this.at.listener(i) + L_MAXCONN, n);
  }
  /** False while an operator has disabled the listener: workers refuse its clients. */
  enabled(i: number): boolean {
    return Atomics.load(this.i32, this.at.listener(i) + L_ENABLED) === 1;
  }
  setEnabled(i: number, on: boolean): void {
    Atomics.store(this.i32, this.at.listener(i) + L_ENABLED, on ? 1 : 0);
  }
  /** Open connections on the listener, all workers. */
  active(i: number): number {
    return Atomics.load(this.i32, this.at.listener(i) + L_ACTIVE);
  }
  /** 0 = no limit */
  maxConnections(i: number): number {
    return Atomics.load(this.i32, this.at.listener(i) + L_MAXCONN);
  }
  /** Take a connection slot on a listener; false when it is at max_connections. */
  acquire(worker: number, i: number): boolean {
    const b = this.at.listener(i);
    const at = b + L_ACTIVE;
    const max = Atomics.load(this.i32, b + L_MAXCONN);
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
    this.f64[s + LS_ACTIVE_HELD]! += 1;
    this.f64[s + LS_ACCEPTED]! += 1;
    return true;
  }
  /** Give back a slot taken by acquire(). */
  release(worker: number, i: number): void {
    Atomics.sub(this.i32, this.at.listener(i) + L_ACTIVE, 1);
    this.f64[this.at.listenerStripe(worker, i) + LS_ACTIVE_HELD]! -= 1;
  }
  countRejected(worker: number, i: number, reason: RejectReason): void {
    this.f64[this.at.listenerStripe(worker, i) + LS_REJECTED + REJECT_REASONS.indexOf(reason)]! += 1;
  }
  countProtocol(worker: number, i: number, protocol: Protocol): void {
    this.f64[this.at.listenerStripe(worker, i) + LS_PROTOCOL + PROTOCOLS.indexOf(protocol)]! += 1;
  }
  /** Bytes from clients; counted per chunk, as backend bytes are, so listener and pool rates agree on long connections. */
  addBytesIn(worker: number, i: number, n: number): void {
    this.f64[this.at.listenerStripe(worker, i) + LS_BYTES_IN]! += n;
  }
  /** Bytes to clients, per chunk. */
  addBytesOut(worker: number, i: number, n: number): void {
    this.f64[this.at.listenerStripe(worker, i) + LS_BYTES_OUT]! += n;
  }
  /** Totals over all workers' stripes (main thread). */
  counters(i: number): ListenerCounters {
    const rejected = zeroRecord(REJECT_REASONS);
    const protocols = zeroRecord(PROTOCOLS);
    let accepted = 0;
    let bytesIn = 0;
    let bytesOut = 0;
    for (let w = 0; w < this.at.cap.workers; w++) {
      const s = this.at.listenerStripe(w, i);
      accepted += this.f64[s + LS_ACCEPTED]!;
      bytesIn += this.f64[s + LS_BYTES_IN]!;
      bytesOut += this.f64[s + LS_BYTES_OUT]!;
      REJECT_REASONS.forEach((r, k) => (rejected[r] += this.f64[s + LS_REJECTED + k]!));
      PROTOCOLS.forEach((p, k) => (protocols[p] += this.f64[s + LS_PROTOCOL + k]!));
    }
    return { accepted, bytesIn, bytesOut, rejected, protocols };
  }
  /** Zero a listener slot's counters before it is reused for a new listener. */
  reset(i: number): void {
    for (let w = 0; w < this.at.cap.workers; w++) {
      const s = this.at.listenerStripe(w, i);
      this.f64.fill(0, s, s + LISTENER_STRIPE);
    }
    const b = this.at.listener(i);
    this.i32.fill(0, b, b + LISTENER_I32);
    // the previous listener's sources stay until replaced, but no longer match
    this.sources.resetListener(i);
  }
  /**
   * A worker died: give back the connection slots it held on every listener.
   * Main thread only, after the worker's exit (its stripes have no writer then).
   */
  releaseWorker(worker: number): void {
    for (let i = 0; i < this.at.cap.listeners; i++) {
      const s = this.at.listenerStripe(worker, i) + LS_ACTIVE_HELD;
      const held = this.f64[s]!;
      if (held !== 0) {
        Atomics.sub(this.i32, this.at.listener(i) + L_ACTIVE, held);
        this.f64[s] = 0;
      }
    }
  }
}

function zeroRecord<K extends string>(keys: readonly K[]): Record<K, number> {
  const r = {} as Record<K, number>;
  for (const k of keys) r[k] = 0;
  return r;
}
