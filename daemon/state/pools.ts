// Pool slots: the algorithm in force, the version pickers rebuild on, the shared
// round-robin cursor, the adaptive controller's choice, and the pool's one queue
// across workers: its count (bounded by queue_size, with each worker's share of
// it, given back if the worker dies), the tickets that order its waiters, each
// worker's oldest ticket, and the signal that wakes waiters in other workers.
import { type Layout } from './layout.js';
import { PoolI32, PoolStripe } from './fields.js';

export class PoolsView {
  constructor(
    private readonly i32: Int32Array,
    private readonly f64: Float64Array,
    private readonly at: Layout,
  ) {}

  /** Claim slot `i` for a pool running `algorithm` (an index into the algorithm list). Main thread. */
  init(i: number, algorithm: number): void {
    const b = this.at.pool(i);
    this.i32.fill(0, b, b + PoolI32.Size);
    Atomics.store(this.i32, b + PoolI32.Algorithm, algorithm);
    Atomics.store(this.i32, b + PoolI32.AdaptiveCurrent, -1);
    Atomics.store(this.i32, b + PoolI32.InUse, 1);
  }
  free(i: number): void {
    Atomics.store(this.i32, this.at.pool(i) + PoolI32.InUse, 0);
  }
  /** Index into the algorithm list. */
  algorithm(i: number): number {
    return Atomics.load(this.i32, this.at.pool(i) + PoolI32.Algorithm);
  }
  setAlgorithm(i: number, algorithm: number): void {
    Atomics.store(this.i32, this.at.pool(i) + PoolI32.Algorithm, algorithm);
    this.bumpVersion(i);
  }
  /** Bumped on every change to a pool's eligible set or weights; pickers rebuild on change. */
  version(i: number): number {
    return Atomics.load(this.i32, this.at.pool(i) + PoolI32.Version);
  }
  bumpVersion(i: number): void {
    Atomics.add(this.i32, this.at.pool(i) + PoolI32.Version, 1);
    // a backend that became eligible may serve a waiter now
    this.signalQueue(i);
  }
  /** Shared round-robin cursor: one fetch-add per pick, exact across workers. Returns the value before, uint32. */
  nextCursor(i: number): number {
    return Atomics.add(this.i32, this.at.pool(i) + PoolI32.Cursor, 1) >>> 0;
  }
  /** The cursor's value without taking a turn (what the next nextCursor returns unless another pick comes first), uint32. */
  peekCursor(i: number): number {
    return Atomics.load(this.i32, this.at.pool(i) + PoolI32.Cursor) >>> 0;
  }
  /** The algorithm an adaptive pool runs now (index into the algorithm list); -1 before the first choice. */
  adaptiveCurrent(i: number): number {
    return Atomics.load(this.i32, this.at.pool(i) + PoolI32.AdaptiveCurrent);
  }
  /** Counts a switch (not the first choice) and bumps the version when the choice changes. */
  setAdaptiveCurrent(i: number, algorithm: number): void {
    const b = this.at.pool(i);
    const prev = Atomics.exchange(this.i32, b + PoolI32.AdaptiveCurrent, algorithm);
    if (prev !== algorithm && prev !== -1) Atomics.add(this.i32, b + PoolI32.AdaptiveSwitches, 1);
    if (prev !== algorithm) this.bumpVersion(i);
  }
  adaptiveSwitches(i: number): number {
    return Atomics.load(this.i32, this.at.pool(i) + PoolI32.AdaptiveSwitches);
  }
  /** Connections waiting for a backend slot in this pool, all workers. */
  queued(i: number): number {
    return Atomics.load(this.i32, this.at.pool(i) + PoolI32.Queued);
  }

  /**
   * A connection of `worker` asks for a place in pool `i`'s queue of at most
   * `limit` (queue_size): the count is the pool's, over every worker, raised by
   * compareExchange so it never passes the limit. Returns the waiter's ticket
   * (uint32; tickets are handed out in order, pool-wide) or -1 when the queue
   * is full. The caller publishes its oldest ticket with setQueueHead.
   */
  enterQueue(worker: number, i: number, limit: number): number {
    const at = this.at.pool(i) + PoolI32.Queued;
    for (let n = Atomics.load(this.i32, at); ;) {
      if (n >= limit) return -1;
      const seen = Atomics.compareExchange(this.i32, at, n, n + 1);
      if (seen === n) break;
      n = seen;
    }
    this.f64[this.at.poolStripe(worker, i) + PoolStripe.QueuedHeld]! += 1;
    return Atomics.add(this.i32, this.at.pool(i) + PoolI32.QueueTicket, 1) >>> 0;
  }

  /** A connection of `worker` left pool `i`'s queue (served, timed out or gone); waiters elsewhere are signalled. */
  leaveQueue(worker: number, i: number): void {
    Atomics.sub(this.i32, this.at.pool(i) + PoolI32.Queued, 1);
    this.f64[this.at.poolStripe(worker, i) + PoolStripe.QueuedHeld]! -= 1;
    this.signalQueue(i);
  }

  /** Publish the ticket of `worker`'s oldest waiter in pool `i`, or -1 when none waits there. */
  setQueueHead(worker: number, i: number, ticket: number): void {
    this.f64[this.at.poolStripe(worker, i) + PoolStripe.QueueHead] = ticket < 0 ? 0 : ticket + 1;
  }

  /**
   * Whether the waiter holding `ticket` in `worker` may take a free backend slot
   * of pool `i`: no other worker publishes an older waiter. Heads are read
   * without a lock, so a head published a moment ago may be missed: the order
   * across workers is the tickets' order within that moment.
   */
  mayServe(worker: number, i: number, ticket: number): boolean {
    for (let w = 0; w < this.at.cap.workers; w++) {
      if (w === worker) continue;
      const head = this.f64[this.at.poolStripe(w, i) + PoolStripe.QueueHead]!;
      // tickets wrap at 2^32: compare by the sign of the 32-bit difference
      if (head !== 0 && ((head - 1 - ticket) | 0) < 0) return false;
    }
    return true;
  }

  /** The queue signal's current value: wait on it with waitQueueSignal. */
  queueSignal(i: number): number {
    return Atomics.load(this.i32, this.at.pool(i) + PoolI32.QueueSignal);
  }

  /**
   * Resolves when pool `i`'s queue is signalled after `seen` was read, or after
   * `timeoutMs` (Atomics.waitAsync: `{async: false}` when it already was).
   */
  waitQueueSignal(i: number, seen: number, timeoutMs: number): ReturnType<typeof Atomics.waitAsync> {
    return Atomics.waitAsync(this.i32, this.at.pool(i) + PoolI32.QueueSignal, seen, timeoutMs);
  }

  /**
   * Wake the waiters of pool `i` in every worker, when some wait: a backend
   * slot was given back, a waiter left, or the pool's backends changed. One
   * load when nobody waits.
   */
  signalQueue(i: number): void {
    const b = this.at.pool(i);
    if (Atomics.load(this.i32, b + PoolI32.Queued) <= 0) return;
    Atomics.add(this.i32, b + PoolI32.QueueSignal, 1);
    Atomics.notify(this.i32, b + PoolI32.QueueSignal);
  }

  /** A worker is gone: give back its connections' queue places. Returns how many. Main thread only. */
  releaseWorker(worker: number): number {
    let released = 0;
    for (let i = 0; i < this.at.cap.pools; i++) {
      const s = this.at.poolStripe(worker, i) + PoolStripe.QueuedHeld;
      const held = this.f64[s]!;
      this.f64[this.at.poolStripe(worker, i) + PoolStripe.QueueHead] = 0;
      if (held !== 0) {
        Atomics.sub(this.i32, this.at.pool(i) + PoolI32.Queued, held);
        this.f64[s] = 0;
        released += held;
        this.signalQueue(i);
      }
    }
    return released;
  }
}
