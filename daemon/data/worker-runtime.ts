// The per-worker objects a connection talks to: the table, its pool's picker
// and queue, and the worker's services (logging, reporting to the main thread).
import type { Table } from '../state/table.js';
import type { MemberPlan, PoolPlan } from './plan.js';
import type { PoolPicker } from './balance/pool-picker.js';
import type { AccessRecord, Connection } from './relay.js';

export interface PoolRuntime {
  plan: PoolPlan;
  picker: PoolPicker;
  members: Map<number, MemberPlan>;
  /** connections waiting for a free backend slot, oldest first */
  queue: Connection[];
}

export interface WorkerServices {
  readonly table: Table;
  readonly worker: number;
  readonly accessLog: boolean;
  /** a slot of this pool was released: wake the queue */
  slotReleased(pool: PoolRuntime): void;
  /** start polling queues (other workers' releases are not signalled to us) */
  ensureQueuePoll(): void;
  reportPassive(slot: number): void;
  connectionClosed(c: Connection): void;
  writeAccessLog(r: AccessRecord): void;
}
