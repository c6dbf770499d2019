// A pool as a worker serves it for one config generation (PoolRuntime: its plan
// and picker), and the worker's part of the pool's one queue (PoolQueue).
//
// The queue is the pool's, not the worker's: its bound (queue_size) is a count
// in the state table that every worker raises by compareExchange, and its order
// is a ticket every waiter draws from the pool's one counter. Each worker keeps
// its own waiters in ticket order and publishes its oldest ticket; a waiter may
// take a free backend slot only when no other worker publishes an older one, so
// the oldest waiter anywhere is served first. Whoever gives back a slot of a
// pool with waiters (or takes a waiter out) bumps the pool's queue signal and
// Atomics.notify()s it; each worker with waiters waits on it with
// Atomics.waitAsync, with a short timeout as a backstop for slots that free
// without a signal. A connection keeps the PoolRuntime it started with across
// reloads; the PoolQueue of a pool slot is the same for every generation.
import type { Table } from '../state/table.js';
import { PoolPicker } from './balance/pool-picker.js';
import type { MemberPlan, PoolPlan } from './plan.js';

/** Something waiting in a pool's queue: a connection. */
export interface Waiter {
  /** A backend slot may be free: take one if it can. Returns false while it still waits. */
  retryFromQueue(): boolean;
}

/** Longest wait for a signal before the queue looks again (a slot freed without one). */
const QUEUE_POLL_MS = 50;

interface Place {
  waiter: Waiter;
  /** uint32, from the pool's ticket counter */
  ticket: number;
}

/** This worker's waiters in one pool slot's queue, oldest first. */
export class PoolQueue {
  private readonly waiting: Place[] = [];
  /** a waitAsync on the pool's queue signal is pending */
  private armed = false;

  constructor(
    private readonly table: Table,
    private readonly worker: number,
    private readonly pool: number,
  ) {}

  /** Waiters in this worker. */
  get length(): number {
    return this.waiting.length;
  }

  /** Whether some connection waits in the pool's queue, in any worker. */
  get othersWaiting(): boolean {
    return this.table.pools.queued(this.pool) > 0;
  }

  /**
   * Take a place at the back of the pool's queue for `w`, if the pool has fewer
   * than `limit` waiters over all workers. Returns false, holding nothing, when
   * the queue is full. `w` is not served from here: the caller calls wake()
   * once it is ready to be.
   */
  enter(w: Waiter, limit: number): boolean {
    const ticket = this.table.pools.enterQueue(this.worker, this.pool, limit);
    if (ticket < 0) return false;
    this.waiting.push({ waiter: w, ticket });
    if (this.waiting.length === 1) this.table.pools.setQueueHead(this.worker, this.pool, ticket);
    this.arm();
    return true;
  }

  /** Take `w` out of the queue (served, timed out or gone). */
  leave(w: Waiter): void {
    const i = this.waiting.findIndex((p) => p.waiter === w);
    if (i < 0) return;
    this.waiting.splice(i, 1);
    if (i === 0) this.publishHead();
    this.table.pools.leaveQueue(this.worker, this.pool);
  }

  /**
   * A backend slot of the pool was given back here: tell the waiters of other
   * workers, and serve this worker's in order while it may and slots are had.
   */
  released(): void {
    this.table.pools.signalQueue(this.pool);
    this.wake();
  }

  /** Serve waiters in order while this worker holds the pool's oldest and a slot is had. */
  wake(): void {
    const pools = this.table.pools;
    while (this.waiting.length > 0) {
      const head = this.waiting[0]!;
      if (!pools.mayServe(this.worker, this.pool, head.ticket)) return;
      if (!head.waiter.retryFromQueue()) return;
      // a waiter that was served left through leave(); one that did not is dropped here
      if (this.waiting[0] === head) this.leave(head.waiter);
    }
  }

  private publishHead(): void {
    const head = this.waiting[0];
    this.table.pools.setQueueHead(this.worker, this.pool, head === undefined ? -1 : head.ticket);
  }

  // Wait for the pool's signal; the caller serves what it can now (wake).
  private arm(): void {
    if (this.armed) return;
    this.armed = true;
    this.waitFrom(this.table.pools.queueSignal(this.pool));
  }

  // Read the signal before looking, so a signal given while we look is not missed.
  private listen(): void {
    if (this.waiting.length === 0) {
      this.armed = false;
      return;
    }
    const seen = this.table.pools.queueSignal(this.pool);
    this.wake();
    if (this.waiting.length === 0) {
      this.armed = false;
      return;
    }
    this.waitFrom(seen);
  }

  private waitFrom(seen: number): void {
    const r = this.table.pools.waitQueueSignal(this.pool, seen, QUEUE_POLL_MS);
    // already signalled: look again after I/O, so a busy pool cannot hold the thread
    if (r.async) void r.value.then(this.onSignal);
    else setImmediate(this.onSignal);
  }

  private readonly onSignal = (): void => {
    this.listen();
  };
}

export class PoolRuntime {
  readonly picker: PoolPicker;
  /** backend slot -> where to connect */
  readonly members: ReadonlyMap<number, MemberPlan>;

  constructor(
    readonly plan: PoolPlan,
    table: Table,
    /** this worker's part of the pool slot's queue (kept across generations) */
    readonly queue: PoolQueue,
  ) {
    this.picker = new PoolPicker({
      table,
      pool: plan.slot,
      members: plan.members.map((m) => ({ slot: m.slot, key: m.key, backup: m.backup })),
    });
    this.members = new Map(plan.members.map((m) => [m.slot, m]));
  }

  /** A backend slot of this pool was given back: waiters here and in other workers may take it. */
  wake(): void {
    this.queue.released();
  }
}
