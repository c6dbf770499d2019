// What the control socket may ask of the daemon. The Daemon (../daemon.ts) implements it; the
// socket server and its command table only ever talk to this interface, so they
// are tested with a fake.
import type { AdminStateName } from '../../state/names.js';
import type { DaemonEvent, ReloadOutcome, Snapshot } from '../snapshot/snapshot.js';
import type { ErrorCode } from '../../errors.js';
import type { HealthReport } from '../service-health.js';

export interface ReloadResult {
  /** true only when the outcome is `applied` */
  ok: boolean;
  outcome: ReloadOutcome;
  /**
   * null when applied; refused: E_RELOAD_FAILED; partial: E_LISTEN (a bind
   * failed), E_PLAN (a worker could not apply a listener's plan and closed it)
   * or E_INTERNAL (the workers did not confirm in time)
   */
  code: ErrorCode | null;
  generation: number;
  /**
   * refused: the formatted config errors ("file:line: key: message [CODE]");
   * partial: what did not apply ("listener extra: bind ...: address already in use ... [E_LISTEN]; not serving")
   */
  errors: string[];
  /** human summary of what changed ("backend web/b4 added", ...) unless refused */
  changes: string[];
  /** every changed key path ("listener.main.bind", "pool.web.backend.b1.weight", "log.level") unless refused */
  keys: string[];
}

/** The answer to a stop request: the stop sequence it started (or that was already running). */
export interface StopAck {
  /** ms the daemon keeps accepting while reporting unhealthy (announce_drain) */
  lameDuckMs: number;
  /** ms it then waits at most for open connections (drain_timeout) */
  drainTimeoutMs: number;
  /** false when a stop was already under way */
  started: boolean;
}

export interface ClientStats {
  address: string;
  active: number;
  connections: number;
  rejected: number;
}

/**
 * Every mutating method throws a NetmonError (E_NOT_FOUND, E_BAD_ARGUMENT, ...)
 * on bad input; the server turns it into an error reply.
 */
export interface ControlContext {
  snapshot(): Snapshot;
  /** most recent last; at most `limit` */
  events(limit: number): DaemonEvent[];
  /** returns an unsubscribe function */
  onEvent(listener: (e: DaemonEvent) => void): () => void;
  /** backend: "pool/name" */
  setState(backend: string, state: AdminStateName): void;
  setWeight(backend: string, weight: number): void;
  /**
   * The same, for every netmon instance watching the backend's etcd prefix
   * (`--fleet`): written to etcd. Throws E_BAD_ARGUMENT for a backend not from
   * etcd, E_ETCD when etcd cannot take the write.
   */
  setFleetState(backend: string, state: AdminStateName): Promise<void>;
  setFleetWeight(backend: string, weight: number): Promise<void>;
  setAlgorithm(pool: string, algorithm: string): void;
  setListenerEnabled(listener: string, enabled: boolean): void;
  reload(): Promise<ReloadResult>;
  /** per-source table for `show clients` (top offenders first) */
  clients(limit: number): ClientStats[];
  /** the instance's health for routing tools (keepalived, BGP speakers) */
  serviceHealth(): HealthReport;
  /** a graceful stop, as SIGTERM: lame duck (announce_drain), then drain; `cause` is logged */
  requestStop(cause: string): StopAck;
  /**
   * Optional: told of every state-changing control command after it ran, so the
   * daemon can record it as an `action` event. The server logs it either way.
   */
  recordAction?(action: { command: string; ok: boolean; message: string }): void;
}
