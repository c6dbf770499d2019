// What a worker needs to serve one config generation: listeners and pools with
// their table slots resolved. Built by the main thread (control/topology) from
// the validated config, sent by postMessage, so it holds only structured-clonable
// plain data, and nothing in it is text a worker must parse.
import type { Address, EdgeConfig, RelayMode } from '../config/schema.js';

export interface MemberPlan {
  slot: number;
  key: string;
  host: string;
  port: number;
  backup: boolean;
}

export interface PoolPlan {
  slot: number;
  name: string;
  /** further attempts after a failure: on backends not tried yet, then on the tried ones again (pool-wait.ts) */
  retries: number;
  /** retry_on holds connect_failure: a failed connect (or a close before any byte either way) is retried */
  retryConnect: boolean;
  /** retry_on holds empty_response: bytes of client data kept to replay elsewhere; 0 = no replay */
  replayBytes: number;
  /** ms */
  connectTimeout: number;
  /** ms */
  idleTimeout: number;
  /** ms from the first client byte relayed to the backend's first byte; 0 = off */
  firstByteTimeout: number;
  queueSize: number;
  queueTimeout: number;
  /** consecutive failed connections (connect, empty response, first byte) that report the backend to the main thread; 0 = off */
  passiveFailures: number;
  sendProxy: 'off' | 'v1' | 'v2';
  members: MemberPlan[];
}

export interface ListenerPlan {
  slot: number;
  name: string;
  bind: Address;
  /** default pool slot */
  pool: number;
  backlog: number;
  /** ms the client side may stay idle while relaying (timeouts.client_idle); 0 = the pool's idle only */
  clientIdle: number;
  /**
   * a listening socket passed by systemd: served by worker 0 only (one fd is never
   * shared between threads), instead of every worker binding `bind` with SO_REUSEPORT
   */
  fd?: number;
  /**
   * ACL, PROXY protocol in, peek and routes (by pool name: every pool is in
   * WorkerPlan.pools), source limits: the loader's typed values (ranges as
   * {family, bytes, prefix}, ms, bytes, lower-case server names). The worker
   * builds its matchers from them (ListenerEdge) without parsing text; what it
   * cannot apply leaves the listener unserved and is reported as E_PLAN.
   */
  edge: EdgeConfig;
}

/** Process-wide edge settings, added to the plan by the daemon. */
interface WorkerEdgePlan {
  /** connections over all listeners; 0 = unlimited */
  maxConnections: number;
}

export interface WorkerPlan {
  generation: number;
  accessLog: boolean;
  /** [data] relay: which relay serves listeners opened from this plan */
  relay: RelayMode;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  listeners: ListenerPlan[];
  /** every pool of the config, including those only a route refers to */
  pools: PoolPlan[];
  edge?: WorkerEdgePlan;
}

/**
 * A listener a worker does not serve as a generation says: its bind failed
 * (E_LISTEN), or its plan could not be applied (E_PLAN; `listener` is "*" when
 * the whole plan failed).
 */
export interface ListenFailure {
  listener: string;
  code: 'E_LISTEN' | 'E_PLAN';
  message: string;
  /** where the worker still serves the listener (its previous bind, kept), or null: not served */
  serving: string | null;
}

/**
 * Test hook (fault-injection.ts): where an armed listener's connections fail.
 * `accept`: the listener's runtime has no pool, as with `pool = ""` (a
 * TypeError while the connection is opened); `relay`: a client 'data' handler
 * throws at the first byte; `timer`: a timer of the connection throws.
 */
export type InjectedFault = 'accept' | 'relay' | 'timer';

/**
 * main -> worker; a stop is graceful (connections finish) or immediate (every
 * connection is cut now). `fault`, `crash` and `stall` are test hooks
 * (fault-injection.ts): arm (or with `at: null` disarm) a fault on a listener's
 * connections, end the worker as an exception outside any connection would, or
 * block its event loop for a while.
 */
export type ToWorker =
  | { type: 'plan'; plan: WorkerPlan }
  | { type: 'stop'; immediate: boolean }
  | { type: 'fault'; listener: string; at: InjectedFault | null }
  | { type: 'crash' }
  /** test hook: block the worker's event loop for `ms` (fault-injection.ts stall) */
  | { type: 'stall'; ms: number };

/** worker -> main */
export type FromWorker =
  | {
      type: 'applied';
      generation: number;
      failures: ListenFailure[];
      /** names of the listeners this worker has a socket open for, after applying */
      listening: string[];
    }
  | { type: 'passive'; slot: number }
  | { type: 'drained' };

export interface WorkerInit {
  id: number;
  buffer: SharedArrayBuffer;
  cap: { workers: number; listeners: number; pools: number; backends: number; sources?: number };
  plan: WorkerPlan;
}
