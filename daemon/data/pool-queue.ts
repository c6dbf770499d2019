// One pool as a worker serves it for one config generation: its plan, its
// picker, and the connections waiting for a free backend slot (the pool's
// queue, bounded by queue_size). A connection keeps the PoolRuntime it started
// with across reloads, so a waiting connection is woken by the pool it waits in.
import type { Table } from '../state/table.js';
import { PoolPicker } from './balance/pool-picker.js';
import type { MemberPlan, PoolPlan } from './plan.js';

/** Something waiting in a pool's queue: a connection. */
export interface Waiter {
  /** A backend slot may be free: take one if it can. Returns false while it still waits. */
  retryFromQueue(): boolean;
}

/** How often queues are looked at for slots freed by other workers (their releases are not signalled here). */
const QUEUE_POLL_MS = 50;

export class PoolRuntime {
  readonly picker: PoolPicker;
  /** backend slot -> where to connect */
  readonly members: ReadonlyMap<number, MemberPlan>;
  /** connections waiting for a free backend slot, oldest first */
  private readonly waiting: Waiter[] = [];

  constructor(
    readonly plan: PoolPlan,
    private readonly table: Table,
    private readonly worker: number,
  ) {
    this.picker = new PoolPicker({
      table,
      pool: plan.slot,
      members: plan.members.map((m) => ({ slot: m.slot, key: m.key, backup: m.backup })),
    });
    this.members = new Map(plan.members.map((m) => [m.slot, m]));
  }

  /** Whether the queue has room for one more (queue_size 0: there is no queue). */
  get queueOpen(): boolean {
    return this.waiting.length < this.plan.queueSize;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Put `w` at the back of the queue, counted in the pool's queued gauge. */
  enqueue(w: Waiter): void {
    this.waiting.push(w);
    this.table.pools.addQueued(this.worker, this.plan.slot, 1);
  }

  /** Take `w` out of the queue (served, timed out or gone). */
  dequeue(w: Waiter): void {
    const i = this.waiting.indexOf(w);
    if (i < 0) return;
    this.waiting.splice(i, 1);
    this.table.pools.addQueued(this.worker, this.plan.slot, -1);
  }

  /** A backend slot may have been freed: serve waiters in order while slots are had. */
  wake(): void {
    while (this.waiting.length > 0 && this.waiting[0]!.retryFromQueue());
  }
}

/**
 * Wakes the queues that have waiters every QUEUE_POLL_MS, for slots freed by
 * other workers; stops polling once every queue is empty. Queues of an older
 * generation are polled too: their connections still wait in them.
 */
export class QueuePoll {
  private readonly pools = new Set<PoolRuntime>();
  private timer: NodeJS.Timeout | null = null;

  watch(pool: PoolRuntime): void {
    this.pools.add(pool);
    if (this.timer === null) this.timer = setInterval(this.poll, QUEUE_POLL_MS);
  }

  private readonly poll = (): void => {
    for (const p of this.pools) {
      p.wake();
      if (p.queued === 0) this.pools.delete(p);
    }
    if (this.pools.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  };
}
