// The access log: one `info` line per connection, written once when it closes
// (docs/observability.md shows the line). A connection refused before it was
// served (ACL, a rate or per-source limit, a bad PROXY header, a full or
// disabled listener) gets a line too, with the reason the rejection metric
// counts it under; those lines are bounded per worker (RefusalLines), so a
// flood of refused connections cannot turn into a flood of log lines.
import { log } from '../log.js';
import type { ErrorCode } from '../errors.js';
import type { RejectReason } from '../state/names.js';

/** How a connection ended, as the access log says it. */
export type Termination =
  /** the client closed first (or both closed cleanly) */
  | 'client_close'
  /** the backend closed first */
  | 'backend_close'
  /** no byte either way for the pool's idle timeout */
  | 'idle_timeout'
  /** no byte from or to the client for the listener's timeouts.client_idle */
  | 'client_idle_timeout'
  /** the client reset the connection (RST): the backend got a reset */
  | 'client_reset'
  /** the backend reset the connection (RST): the client got a reset */
  | 'backend_reset'
  /** the client socket failed otherwise: the backend got a reset */
  | 'client_error'
  /** the backend socket failed otherwise after connecting: the client got a reset */
  | 'backend_error'
  /** the backend sent nothing within timeouts.first_byte, and no retry was left: both sides reset */
  | 'first_byte_timeout'
  /** no eligible backend to try */
  | 'no_backend'
  /** its connect attempts failed, and no attempt was left (or retry_on does not name connect_failure) */
  | 'connect_failed'
  /** waited in the pool's queue past timeouts.queue */
  | 'queue_timeout'
  /** refused: before it was served (ACL, limits, PROXY header, listener full or disabled), or every backend full */
  | 'rejected'
  /** cut by an immediate stop */
  | 'shutdown'
  /** reset because of an exception inside netmon on its path (error E_INTERNAL) */
  | 'internal_error';

export interface AccessRecord {
  client: string;
  listener: string;
  /** null when the connection was refused before a pool was chosen */
  pool: string | null;
  /** "pool/name" of the backend relayed to (or last tried); null when none was connected */
  backend: string | null;
  /** client to backend */
  bytesIn: number;
  bytesOut: number;
  /** ms; -1 when no backend connected */
  connectMs: number;
  /**
   * ms from the first client byte relayed to the backend (or from the connect, when
   * the backend spoke first) to the backend's first byte; -1 when it sent none
   */
  firstByteMs: number;
  /** ms from accept to close */
  durationMs: number;
  termination: Termination;
  /** catalog code: why no backend served the connection (null when one did) */
  error: ErrorCode | null;
  /** connect attempts: retries + 1 */
  attempts: number;
  /** why the connection was refused, as netmon_listener_rejected_connections_total counts it; null when it was not */
  reason: RejectReason | null;
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
    first_byte_ms: r.firstByteMs >= 0 ? round(r.firstByteMs) : null,
    duration_ms: round(r.durationMs),
    termination: r.termination,
    error: r.error,
    attempts: r.attempts,
    reason: r.reason,
    worker: r.worker,
  });
}

/** Refusal lines a worker writes per second at most (and in a burst), before it counts them instead. */
export const REFUSAL_LINES_PER_SECOND = 100;

/**
 * The access lines of refused connections in one worker, through a token
 * bucket of REFUSAL_LINES_PER_SECOND: beyond it a line is not written but
 * counted (by reason, and in the worker's netmon_worker_access_refusals_suppressed_total),
 * and one `access refusals suppressed` warning says how many once lines flow
 * again, or a second later. `now` is ms on any monotonic clock.
 */
export class RefusalLines {
  private tokens = REFUSAL_LINES_PER_SECOND;
  private refilledAt: number;
  private suppressed = 0;
  private readonly byReason: Partial<Record<RejectReason, number>> = {};
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly worker: number,
    /** counts suppressed lines where the metrics read them */
    private readonly count: (n: number) => void,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.refilledAt = this.now();
  }

  /** Write `r`'s line, or count it when this worker is over its refusal line rate. */
  write(r: AccessRecord): void {
    const t = this.now();
    this.tokens = Math.min(
      REFUSAL_LINES_PER_SECOND,
      this.tokens + ((t - this.refilledAt) * REFUSAL_LINES_PER_SECOND) / 1000,
    );
    this.refilledAt = t;
    if (this.tokens < 1) {
      this.suppressed++;
      const reason = r.reason ?? 'no_backend';
      this.byReason[reason] = (this.byReason[reason] ?? 0) + 1;
      this.count(1);
      this.timer ??= setTimeout(this.flush, 1000).unref();
      return;
    }
    this.tokens -= 1;
    this.flush();
    writeAccessLog(r);
  }

  /** Say how many lines were suppressed since the last time, if any. */
  readonly flush = (): void => {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.suppressed === 0) return;
    log.warn('access refusals suppressed', {
      suppressed: this.suppressed,
      reasons: { ...this.byReason },
      lines_per_second: REFUSAL_LINES_PER_SECOND,
      worker: this.worker,
    });
    this.suppressed = 0;
    for (const k of Object.keys(this.byReason)) delete this.byReason[k as RejectReason];
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
