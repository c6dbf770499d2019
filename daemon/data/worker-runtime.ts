// The per-worker objects a connection talks to: the table, its pool's picker
// and queue, and the worker's services (logging, reporting to the main thread).
import type { Table } from '../state/table.js';
import type { MemberPlan, PoolPlan } from './plan.js';
import type { PoolPicker } from './balance/pool-picker.js';
import type { ErrorCode } from '../errors.js';

export interface PoolRuntime {
  plan: PoolPlan;
  picker: PoolPicker;
  members: Map<number, MemberPlan>;
  /** connections waiting for a free backend slot, oldest first */
  queue: QueuedConnection[];
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
  connectionClosed(c: QueuedConnection): void;
  writeAccessLog(r: AccessRecord): void;
}

/** A connection waiting in a pool's queue, as the worker wakes it. */
interface QueuedConnection {
  /** try to take a backend slot again: false while it must keep waiting */
  retryFromQueue(): boolean;
}

export type Termination =
  | 'client_close'
  | 'backend_close'
  | 'idle_timeout'
  | 'client_error'
  | 'backend_error'
  | 'no_backend'
  | 'queue_timeout'
  | 'rejected'
  | 'shutdown';

export interface AccessRecord {
  client: string;
  listenerSlot: number;
  pool: string;
  backendSlot: number;
  bytesIn: number;
  bytesOut: number;
  connectMs: number;
  durationMs: number;
  termination: Termination;
  /** catalog code: why no backend served the connection (null when one did) */
  error: ErrorCode | null;
  attempts: number;
}
