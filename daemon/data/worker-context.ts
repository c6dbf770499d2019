// What a connection is given by the worker that accepted it: the shared table,
// the listener and pools of the generation it was accepted under, the global
// limit, and the few things only the worker does (its set of open connections,
// reports to the main thread). Types only: the worker implements it, and a
// connection never imports the worker.
import type { Table } from '../state/table.js';
import type { ListenerEdge } from './edge/listener-edge.js';
import type { ListenerPlan } from './plan.js';
import type { PoolRuntime } from './pool-queue.js';
import type { GlobalLimit } from './reservations.js';
import type { RefusalLines } from './access-log.js';

/** A listening socket: a Node server, or one the native relay accepts on. */
export interface ListeningSocket {
  /** open and accepting (false once closed) */
  readonly listening: boolean;
  /**
   * Stop accepting and close the socket. Returns how many clients were in its
   * accept queue just before (connected, never accepted), which the kernel
   * resets as it closes; -1 when not known. A duplicate of a socket systemd
   * passed leaves that socket listening: its queue is not reset.
   */
  close(): number;
}

/** One listener as a worker serves it for one config generation. */
export interface ListenerRuntime {
  plan: ListenerPlan;
  server: ListeningSocket;
  /** who accepts on `server`: the native relay, or Node (whose connections the relay may still take over) */
  accept: 'native' | 'node';
  /** the native relay moves its connections' bytes (else Node sockets do: [data] relay = "js", or it did not load) */
  native: boolean;
  /** the listener's default pool */
  pool: PoolRuntime;
  /** null: no edge feature configured, the accept path skips all of it */
  edge: ListenerEdge | null;
}

/** A connection as the worker sees it: something to cut on an immediate stop or when the worker fails. */
export interface OpenConnection {
  /** Reset both sides now (immediate stop, or the worker failing); the connection gives back what it holds. */
  abort(termination: 'shutdown' | 'internal_error'): void;
}

export interface WorkerContext {
  readonly table: Table;
  readonly worker: number;
  /** a graceful stop has begun: connections still reading their preamble are not served */
  readonly stopping: boolean;
  readonly accessLog: boolean;
  /** the access lines of refused connections, bounded per worker */
  readonly refusals: RefusalLines;
  readonly limit: GlobalLimit;
  /**
   * The worker stopped accepting for want of file descriptors (fd-guard.ts): a
   * client accepted meanwhile (the rest of an accept batch, one already queued)
   * is refused (fd_exhaustion) rather than given a backend socket there may be
   * no descriptor for.
   */
  readonly fdsShort: boolean;
  /** The current generation's pool in `slot` (a route's target), or undefined. */
  pool(slot: number): PoolRuntime | undefined;
  /** A backend reached passive.consecutive_failures failed connections in a row: tell the main thread. */
  reportPassive(slot: number): void;
  /** A backend connect failed with EMFILE/ENFILE: count it, log at a bounded rate, stop accepting for a while. */
  outOfFds(err: NodeJS.ErrnoException): void;
  /** The connection has closed and given back everything it held. Called once per connection. */
  closed(c: OpenConnection): void;
}
