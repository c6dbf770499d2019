// Pool slots: the algorithm in force, the version pickers rebuild on, the shared
// round-robin cursor, the adaptive controller's choice and the queue gauge (with
// each worker's share of it, given back if the worker dies).
import { PoolI32, PoolStripe, type Layout } from './layout.js';

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
  }
  /** Shared round-robin cursor: one fetch-add per pick, exact across workers. Returns the value before, uint32. */
  nextCursor(i: number): number {
    return Atomics.add(this.i32, this.at.pool(i) + PoolI32.Cursor, 1) >>> 0;
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
  /** A connection of `worker` entered (+1) or left (-1) pool `i`'s queue. */
  addQueued(worker: number, i: number, delta: number): void {
    Atomics.add(this.i32, this.at.pool(i) + PoolI32.Queued, delta);
    this.f64[this.at.poolStripe(worker, i) + PoolStripe.QueuedHeld]! += delta;
  }
  /** A worker is gone: give back its connections' queue places. Returns how many. Main thread only. */
  releaseWorker(worker: number): number {
    let released = 0;
    for (let i = 0; i < this.at.cap.pools; i++) {
      const s = this.at.poolStripe(worker, i) + PoolStripe.QueuedHeld;
      const held = this.f64[s]!;
      if (held !== 0) {
        Atomics.sub(this.i32, this.at.pool(i) + PoolI32.Queued, held);
        this.f64[s] = 0;
        released += held;
      }
    }
    return released;
  }
}
