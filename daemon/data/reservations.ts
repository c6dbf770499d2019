// What one client connection holds in the shared table, taken and given back
// through here only: the listener slot (with the worker's open count), the
// per-source entry, the backend slot and the place in a pool's queue. Each hold
// is one field saying what is held (-1 / null: nothing); a release clears the
// field before it gives the hold back, so releasing twice gives back once.
// The connection calls releaseAll() from its one close path: whatever way it
// ends, everything it took is given back exactly once.
import type { Table } from '../state/table.js';
import type { SourceLimiter } from './edge/source-limits.js';
import type { PoolQueue, Waiter } from './pool-queue.js';

/** The process-wide max_connections as a worker applies it, from its current plan. */
export interface GlobalLimit {
  /** open connections over all listeners; 0 = unlimited */
  maxConnections: number;
  /** the listener slots whose open connections count against it */
  listeners: readonly number[];
}

export class Reservations {
  /** listener slot counting this connection (and the worker's open count with it), or -1 */
  private listener = -1;
  /** per-source entry counting this connection, or -1 */
  private source = -1;
  private sources: SourceLimiter | null = null;
  /** backend slot reserved against its max_connections, or -1 */
  private backendSlot = -1;
  /** the pool queue that holds `waiter`, or null */
  private queue: PoolQueue | null = null;
  private waiter: Waiter | null = null;

  constructor(
    private readonly table: Table,
    private readonly worker: number,
  ) {}

  /**
   * Take a connection slot on listener `slot`, within the global limit, and
   * count the connection as open on this worker. Returns false, holding
   * nothing, when the global or the listener's max_connections is reached.
   * Node cannot stop polling a listening socket without closing it (closing a
   * SO_REUSEPORT socket resets the connections in its queue), so a full
   * listener accepts and closes at once, counted: nothing piles up in memory.
   */
  takeListener(slot: number, limit: GlobalLimit): boolean {
    const t = this.table;
    if (limit.maxConnections > 0) {
      let open = 0;
      for (const l of limit.listeners) open += t.listeners.active(l);
      if (open >= limit.maxConnections) return false;
    }
    if (!t.listeners.acquire(this.worker, slot)) return false;
    t.workers.connectionOpened(this.worker);
    this.listener = slot;
    return true;
  }

  /** SourceLimiter.admit() counted this connection on `entry` (ignored when -1: untracked). */
  tookSource(limiter: SourceLimiter, entry: number): void {
    if (entry < 0) return;
    this.sources = limiter;
    this.source = entry;
  }

  /** PoolPicker.acquire() reserved backend `slot` for this connection. */
  tookBackend(slot: number): void {
    this.backendSlot = slot;
  }

  /** The backend slot held, or -1. */
  get backend(): number {
    return this.backendSlot;
  }

  /**
   * Give back the backend slot, as after a failed connect (a retry may take
   * another). Returns the slot given back, or -1 when none was held; the
   * caller wakes the pool's queue.
   */
  releaseBackend(): number {
    const slot = this.backendSlot;
    if (slot < 0) return -1;
    this.backendSlot = -1;
    this.table.backends.release(this.worker, slot);
    return slot;
  }

  /**
   * Wait in a pool's queue, if it has fewer than `limit` (queue_size) waiters
   * over all workers. Returns false, holding no place, when it is full.
   */
  enterQueue(queue: PoolQueue, w: Waiter, limit: number): boolean {
    this.leaveQueue();
    if (!queue.enter(w, limit)) return false;
    this.queue = queue;
    this.waiter = w;
    return true;
  }

  leaveQueue(): void {
    const queue = this.queue;
    if (queue === null) return;
    this.queue = null;
    queue.leave(this.waiter!);
    this.waiter = null;
  }

  /** Give back everything still held. Returns the backend slot given back, or -1. */
  releaseAll(): number {
    this.leaveQueue();
    const backend = this.releaseBackend();
    const source = this.source;
    if (source >= 0) {
      this.source = -1;
      this.sources!.release(source);
      this.sources = null;
    }
    const listener = this.listener;
    if (listener >= 0) {
      this.listener = -1;
      this.table.listeners.release(this.worker, listener);
      this.table.workers.connectionClosed(this.worker);
    }
    return backend;
  }
}
