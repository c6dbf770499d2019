// A connection's wait for a backend of its pool, the same on both relays
// (connection.ts, native/connection.ts): the pick, a place in the pool's queue
// (pool-queue.ts) when every backend is full or others already wait, the
// queue's timer (timeouts.queue), and the outcome called back to the
// connection: connect to the backend slot reserved for it, or refuse it.
// HAProxy's backend queue (`maxconn` + `timeout queue`) behaves the same way: a
// waiter is served as soon as a slot frees, or refused when its time is up.
// A retry goes to a backend the connection has not tried; once it has tried
// every eligible one, it starts on them again (every `retries` is an attempt),
// and a retry on the very backend that just failed waits min(timeouts.connect,
// TURNAROUND_MS) first: HAProxy's `retries` (configuration.txt: "a turn-around
// timer of min("timeout connect", one second) is applied before a retry occurs
// on the same server"; with more than one server, src/stream.h
// stream_choose_redispatch moves a non-hash backend's retry to another server).
import type { RejectReason } from '../state/names.js';
import type { PickContext } from './balance/interface.js';
import { guardedTimeout, type FaultOwner } from './fault-guard.js';
import type { PoolRuntime, Waiter } from './pool-queue.js';
import type { Reservations } from './reservations.js';

/** ms: the longest wait before a retry on the backend that just failed (HAProxy's one second). */
export const TURNAROUND_MS = 1000;

/**
 * What a wait ends in: one of them is called, once per pick. The connection
 * itself (connection-base.ts), so that a wait costs no closure per connection.
 */
export interface WaitOutcome {
  /** Backend `slot` is reserved for the connection (held in its Reservations): connect to it. */
  backendReserved(slot: number): void;
  /** No backend for it: 'max_connections' (full, queue full), 'no_backend', 'queue_timeout'. */
  noBackend(reason: RejectReason): void;
}

export class PoolWait implements Waiter {
  /** the pool whose queue holds the connection; null while it does not wait */
  private queuedIn: PoolRuntime | null = null;
  /** the queue's timer, or the turnaround's before a retry on the backend that just failed */
  private timer: NodeJS.Timeout | null = null;
  /** the backend reserved for a retry that waits out the turnaround; -1 when none */
  private delayed = -1;
  /**
   * The connection took its turn of the pool's rotation (an acquire that was
   * not a retry): its later picks, from the queue included, are retries
   * (PickContext.retry) that take none.
   */
  private turnTaken = false;

  constructor(
    private readonly worker: number,
    /** the connection's pick context; `avoid` is `tried` */
    private readonly ctx: PickContext,
    /** backends a retry avoids: forgotten once it waits */
    private readonly tried: number[],
    /** the connection's reservations: the backend slot and the queue place are held there */
    private readonly held: Reservations,
    /** the queue timer's exceptions go to the connection (fault-guard.ts) */
    private readonly owner: FaultOwner,
    private readonly outcome: WaitOutcome,
  ) {}

  /** Whether the connection waits in a pool's queue. */
  get queued(): boolean {
    return this.queuedIn !== null;
  }

  /**
   * Pick a backend of `pool` (ctx.now must be current), else wait in its queue,
   * else refuse. `first`: the connection's first pick, which takes a turn of
   * the pool's rotation; a new connection takes its place behind those already
   * waiting, in any worker. A retry (not `first`, the failed backend last in
   * `tried`) takes no turn, goes to a backend not tried yet, else to the
   * eligible ones again (the one that just failed last of all), and waits the
   * turnaround (min(timeouts.connect, TURNAROUND_MS)) before a connect to the
   * backend that just failed.
   */
  pick(pool: PoolRuntime, first: boolean): void {
    if (first) this.turnTaken = false;
    if (first && pool.plan.queueSize > 0 && pool.queue.othersWaiting) {
      if (!this.enqueue(pool)) this.outcome.noBackend('max_connections');
      return;
    }
    const failed = first ? -1 : (this.tried[this.tried.length - 1] ?? -1);
    let slot = this.acquire(pool);
    if (slot < 0 && failed >= 0 && pool.picker.lastFailure === 'no_backend' && pool.picker.tier !== 'none') {
      slot = this.againOverTried(pool, failed);
    }
    if (slot >= 0) {
      this.held.tookBackend(slot);
      if (slot === failed) return this.turnaround(pool, slot);
      return this.outcome.backendReserved(slot);
    }
    const full = pool.picker.lastFailure === 'full';
    if (full && this.enqueue(pool)) return;
    this.outcome.noBackend(full ? 'max_connections' : 'no_backend');
  }

  /** Called by the pool when a backend slot may be free. Returns false while still waiting. */
  retryFromQueue(): boolean {
    const pool = this.queuedIn;
    if (pool === null) return true;
    this.ctx.now = performance.now();
    const slot = this.acquire(pool);
    if (slot < 0) return false;
    this.leave();
    this.held.tookBackend(slot);
    this.outcome.backendReserved(slot);
    return true;
  }

  /** The connection closes: no timer is left running (Reservations.releaseAll gives back the place and the backend). */
  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.queuedIn = null;
    this.delayed = -1;
  }

  /** The picker's acquire, as a retry once the connection took its turn. */
  private acquire(pool: PoolRuntime): number {
    this.ctx.retry = this.turnTaken;
    const slot = pool.picker.acquire(this.worker, this.ctx);
    this.turnTaken = true;
    return slot;
  }

  /**
   * Every eligible backend was tried and attempts remain: the eligible ones
   * again, the one that just failed (`failed`) only when it is the only one.
   * `tried` keeps just `failed`, so a later retry goes round them again.
   */
  private againOverTried(pool: PoolRuntime, failed: number): number {
    const tried = this.tried;
    tried.length = 0;
    tried.push(failed);
    const slot = this.acquire(pool);
    if (slot >= 0 || pool.picker.lastFailure !== 'no_backend') return slot;
    tried.length = 0;
    const again = this.acquire(pool);
    tried.push(failed);
    return again;
  }

  /** Connect to `slot` (reserved), the backend that just failed, after the turnaround. */
  private turnaround(pool: PoolRuntime, slot: number): void {
    this.delayed = slot;
    const ms = Math.min(pool.plan.connectTimeout, TURNAROUND_MS);
    this.timer = guardedTimeout(this.owner, () => this.turnedAround(), ms);
  }

  private turnedAround(): void {
    this.timer = null;
    const slot = this.delayed;
    this.delayed = -1;
    if (slot >= 0) this.outcome.backendReserved(slot);
  }

  /** Wait in the pool's queue; false when it is full (queue_size over all workers, 0 = no queue). */
  private enqueue(pool: PoolRuntime): boolean {
    if (!this.held.enterQueue(pool.queue, this, pool.plan.queueSize)) return false;
    this.queuedIn = pool;
    // whichever backend frees first serves a waiter, one it tried before it waited included
    this.tried.length = 0;
    // the one closure of a wait, made only for the connections that queue
    this.timer = guardedTimeout(this.owner, () => this.timedOut(), pool.plan.queueTimeout);
    pool.queue.wake();
    return true;
  }

  private leave(): void {
    this.held.leaveQueue();
    this.cancel();
  }

  private timedOut(): void {
    this.timer = null;
    if (this.queuedIn === null) return;
    this.leave();
    this.outcome.noBackend('queue_timeout');
  }
}
