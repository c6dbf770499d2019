// What the control socket may ask of the daemon. The Daemon (../daemon.ts) implements it; the
// socket server and its command table only ever talk to this interface, so they
// are tested with a fake.
import type { AdminStateName } from '../../state/names.js';
import type { DaemonEvent, Snapshot } from '../snapshot/snapshot.js';

export interface ReloadResult {
  ok: boolean;
  generation: number;
  /** formatted config errors ("file:line: key: message [CODE]") when !ok */
  errors: string[];
  /** human summary of what changed ("backend web/b4 added", ...) when ok */
  changes: string[];
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
  setAlgorithm(pool: string, algorithm: string): void;
  setListenerEnabled(listener: string, enabled: boolean): void;
  reload(): Promise<ReloadResult>;
  /** per-source table for `show clients` (top offenders first) */
  clients(limit: number): ClientStats[];
  /**
   * Optional: told of every state-changing control command after it ran, so the
   * daemon can record it as an `action` event. The server logs it either way.
   */
  recordAction?(action: { command: string; ok: boolean; message: string }): void;
}
