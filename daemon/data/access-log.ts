// The access log: one `info` line per connection that got past admission,
// written once when it closes (docs/observability.md shows the line).
import { log } from '../log.js';
import type { ErrorCode } from '../errors.js';

/** How a connection ended, as the access log says it. */
export type Termination =
  /** the client closed first (or both closed cleanly) */
  | 'client_close'
  /** the backend closed first */
  | 'backend_close'
  /** no byte either way for the pool's idle timeout */
  | 'idle_timeout'
  /** the client socket failed (reset, ...) */
  | 'client_error'
  /** the backend socket failed after connecting */
  | 'backend_error'
  /** no eligible backend, or every connect attempt failed */
  | 'no_backend'
  /** waited in the pool's queue past timeouts.queue */
  | 'queue_timeout'
  /** refused by a limit after admission (every backend at max_connections, no queue) */
  | 'rejected'
  /** cut by an immediate stop */
  | 'shutdown'
  /** reset because of an exception inside netmon on its path (error E_INTERNAL) */
  | 'internal_error';

export interface AccessRecord {
  client: string;
  listener: string;
  pool: string;
  /** "pool/name" of the backend relayed to (or last tried); null when none was connected */
  backend: string | null;
  /** client to backend */
  bytesIn: number;
  bytesOut: number;
  /** ms; -1 when no backend connected */
  connectMs: number;
  /** ms from accept to close */
  durationMs: number;
  termination: Termination;
  /** catalog code: why no backend served the connection (null when one did) */
  error: ErrorCode | null;
  /** connect attempts: retries + 1 */
  attempts: number;
  worker: number;
}

export function writeAccessLog(r: AccessRecord): void {
  log.info('access', {
    client: r.client,
    listener: r.listener,
    pool: r.pool,
    backend: r.backend,
    bytes_in: r.bytesIn,
    bytes_out: r.bytesOut,
    connect_ms: r.connectMs >= 0 ? round(r.connectMs) : null,
    duration_ms: round(r.durationMs),
    termination: r.termination,
    error: r.error,
    attempts: r.attempts,
    worker: r.worker,
  });
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
