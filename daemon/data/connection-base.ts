// What a client connection is on either relay, and the part of its life both
// relays share: its state (listener, pool, reservations, attempts, timings, how
// it ended), admission, taking in what its preamble read (PROXY header, peek
// and routing), its wait for a backend (pool-wait.ts), a refusal, a fault, a
// backend's failures as passive health hears of them, and the close's
// accounting (the duration, everything held given back, the access line).
// The Node relay's Connection (connection.ts, through relay-pump.ts,
// first-bytes.ts and backend-attempt.ts) and the native relay's
// NativeConnection (native/connection.ts, through native/attempt.ts) extend
// this class; each owns how its bytes move and how its sockets close.
import { Histogram, type ConnectErrorReason, type PeekMissReason, type RejectReason } from '../state/names.js';
import type { Table } from '../state/table.js';
import type { ErrorCode } from '../errors.js';
import { log } from '../log.js';
import type { ClientAddress } from '../net/ip.js';
import { admitPeer, admitSource } from './admission.js';
import { writeAccessLog, type AccessRecord, type Termination } from './access-log.js';
import type { PickContext } from './balance/interface.js';
import type { Origin, Preamble } from './edge/preamble.js';
import { reportFault, type FaultOwner } from './fault-guard.js';
import type { MemberPlan } from './plan.js';
import type { PoolRuntime } from './pool-queue.js';
import { PoolWait, type WaitOutcome } from './pool-wait.js';
import { Reservations } from './reservations.js';
import type { ListenerRuntime, OpenConnection, WorkerContext } from './worker-context.js';

/** The catalog code of a failed connect, by reason. */
export const CONNECT_ERROR_CODE: Record<ConnectErrorReason, ErrorCode> = {
  refused: 'E_CONNECT_REFUSED',
  timeout: 'E_CONNECT_TIMEOUT',
  other: 'E_CONNECT_ERROR',
};

export const enum Phase {
  Admitting = 0,
  /** reading the PROXY header or peeking at the first bytes (on a Node socket) */
  Preamble = 1,
  /** picking a backend, or waiting for one in the pool's queue (PoolWait) */
  Picking = 2,
  Connecting = 3,
  Relaying = 4,
  Closed = 5,
}

export abstract class ConnectionBase implements OpenConnection, FaultOwner, WaitOutcome {
  protected phase = Phase.Admitting;
  protected readonly table: Table;
  protected readonly worker: number;
  protected listener: ListenerRuntime;
  protected listenerSlot: number;
  protected readonly held: Reservations;
  protected pool: PoolRuntime;
  /** the pick, the pool's queue and its timer */
  protected readonly wait: PoolWait;
  /** the backend connected (or being connected) to; null before and after a failed attempt */
  protected member: MemberPlan | null = null;
  /** backends a retry must avoid */
  protected readonly tried: number[] = [];
  /** connect attempts: retries + 1 */
  protected attempts = 0;
  /** performance.now() at accept */
  protected acceptedAt = 0;
  /** performance.now() when the current connect began */
  protected connectStartedAt = 0;
  /** performance.now() when the current backend connected */
  protected connectedAt = 0;
  /** ms the last successful connect took; -1 when none connected */
  protected connectMs = -1;
  /** ms from the first client byte relayed (or the connect) to the backend's first byte; -1 before it */
  protected firstByteMs = -1;
  /** client bytes relayed (bytes replayed to another backend are not counted again) */
  protected bytesIn = 0;
  protected bytesOut = 0;
  protected termination: Termination = 'client_close';
  /** why it was refused (the rejection metric's reason); null while it is not */
  protected refusal: RejectReason | null = null;
  /** past admission and the preamble: the connection is access-logged */
  protected admitted = false;
  /** why no backend served the client: the last failure or the refusal; null once one connected */
  protected error: ErrorCode | null = null;
  /** the client as rules, limits and logs see it: the socket's peer, or the PROXY header's source */
  protected peer: ClientAddress;
  protected readonly ctx: PickContext;
  /** client bytes read before the relay (the rest after a PROXY header, peeked bytes), relayed first */
  protected pending: Buffer | null = null;
  /** the addresses a PROXY header carried, passed on by send_proxy; null = the sockets' own */
  protected origin: Origin | null = null;

  constructor(
    protected readonly w: WorkerContext,
    listener: ListenerRuntime,
    peer: ClientAddress,
  ) {
    this.table = w.table;
    this.worker = w.worker;
    this.listener = listener;
    this.listenerSlot = listener.plan.slot;
    this.held = new Reservations(w.table, w.worker);
    this.pool = listener.pool;
    this.peer = peer;
    this.ctx = { clientAddress: peer.text, avoid: this.tried, now: 0, random: Math.random, retry: false };
    this.wait = new PoolWait(this.worker, this.ctx, this.tried, this.held, this, this);
  }

  /** The wait for a backend reserved `slot` (pool-wait.ts, WaitOutcome). */
  backendReserved(slot: number): void {
    this.connect(slot);
  }

  /** The wait found no backend (pool-wait.ts, WaitOutcome). */
  noBackend(reason: RejectReason): void {
    this.refuse(reason);
  }

  /** Connect to backend `slot` (reserved in `held`). */
  protected abstract connect(slot: number): void;
  /** The one close path. */
  protected abstract close(): void;
  /** Reset the client (never served, or refused): it must not take a FIN for a complete exchange. */
  protected abstract resetClient(): void;
  /** Reset both sides now (an immediate stop, a fault). Must not throw. */
  protected abstract resetBoth(): void;

  /**
   * Admission (admission.ts): the listener enabled, descriptors to spare (the
   * worker's fd guard not paused), the peer admitted, a slot within the global
   * and the listener's max_connections. False: refused.
   */
  protected admit(): boolean {
    const slot = this.listenerSlot;
    let reason: RejectReason | null = this.table.listeners.enabled(slot) ? null : 'disabled';
    if (reason === null && this.w.fdsShort) reason = 'fd_exhaustion';
    const edge = this.listener.edge;
    if (reason === null && edge !== null) reason = admitPeer(edge, this.peer, this.held);
    if (reason === null && !this.held.takeListener(slot, this.w.limit)) reason = 'max_connections';
    if (reason === null) return true;
    this.refuse(reason);
    return false;
  }

  /**
   * Take in what the preamble read: the client a PROXY header names (admitted
   * again as that source), the route the peeked bytes choose, the bytes read
   * (relayed first). False when the connection ended here: the client went
   * away, its header was refused, a graceful stop began, or its source was refused.
   */
  protected preambleTaken(p: Preamble): boolean {
    // the client went away meanwhile (its socket's close closed it), or an immediate stop cut it
    if (this.phase !== Phase.Preamble) return false;
    const edge = this.listener.edge!;
    if (!p.ok) {
      if (p.reason === 'closed') {
        this.close();
        return false;
      }
      log.debug('PROXY header rejected', {
        listener: this.listener.plan.name,
        client: this.ctx.clientAddress,
        reason: p.detail,
      });
      this.refuse('proxy_header');
      return false;
    }
    if (this.w.stopping) {
      // a graceful stop began while it was read: it was never served, and must not look served
      this.resetClient();
      this.close();
      return false;
    }
    if (edge.trusted !== null) {
      this.peer = p.client;
      this.ctx.clientAddress = p.client.text;
      const reason = admitSource(edge, p.client, this.held);
      if (reason !== null) {
        this.refuse(reason);
        return false;
      }
    }
    if (p.peek !== null) {
      this.table.listeners.countProtocol(this.worker, this.listenerSlot, p.peek.protocol ?? 'unknown');
      const slot = edge.router!.route(p.peek);
      if (slot >= 0) this.pool = this.w.pool(slot) ?? this.pool;
      // cut short, or no route took a client whose server name could not be read
      const miss = p.cut ?? (slot < 0 ? p.peek.miss : null);
      if (miss !== null) this.peekMissed(miss, p.data?.length ?? 0);
    }
    this.origin = p.origin;
    if (p.data !== null && p.data.length > 0) this.pending = p.data;
    return true;
  }

  /** The peek ended without a verdict: the listener's pool was used. Counted by reason, logged at debug. */
  private peekMissed(reason: PeekMissReason, bytes: number): void {
    this.table.listeners.countPeekMiss(this.worker, this.listenerSlot, reason);
    log.debug('peek ended without a verdict', {
      listener: this.listener.plan.name,
      client: this.ctx.clientAddress,
      reason,
      bytes,
    });
  }

  /** One more failed connection in a row to backend `slot`: at the pool's threshold, passive health hears of it. */
  protected backendFailed(slot: number): void {
    const fails = this.table.backends.addConsecutiveFailure(slot);
    const threshold = this.pool.plan.passiveFailures;
    if (threshold > 0 && fails === threshold) {
      this.table.backendStats.countPassiveFailure(this.worker, slot);
      this.w.reportPassive(slot);
    }
  }

  /**
   * Refuse the connection, counted on the listener under `reason`. The client
   * gets a reset, never a clean FIN: a client that has not sent yet (or a
   * protocol whose server speaks last) would take a FIN with no byte for an
   * exchange that completed.
   */
  protected refuse(reason: RejectReason): void {
    this.termination =
      reason === 'queue_timeout' || reason === 'no_backend' || reason === 'connect_failed' ? reason : 'rejected';
    this.refusal = reason;
    if (reason === 'queue_timeout') this.error = 'E_QUEUE_TIMEOUT';
    else if (this.admitted) this.error ??= 'E_NO_BACKEND';
    this.table.listeners.countRejected(this.worker, this.listenerSlot, reason);
    this.resetClient();
    this.close();
  }

  /** Cut both sides now (an immediate stop, the worker failing) with a reset: not taken for a complete stream. */
  abort(termination: 'shutdown' | 'internal_error'): void {
    if (this.phase === Phase.Closed) return;
    this.termination = termination;
    this.resetBoth();
    this.close();
  }

  /**
   * An exception on this connection's path (a bug in netmon): count and log it
   * (before the reset: whoever sees the reset finds it counted), reset both
   * sides; the worker goes on. Never throws, even when the close path does.
   */
  fault(err: unknown, where: string): void {
    const first = this.termination !== 'internal_error';
    this.termination = 'internal_error';
    this.error = 'E_INTERNAL';
    const fields = { where, listener: this.listener.plan.name, client: this.ctx.clientAddress };
    if (first) reportFault(this.table, this.worker, err, fields);
    this.resetBoth();
    if (!first) return;
    try {
      this.close();
    } catch {
      // the close path is what failed: the worker's set must not keep the connection
    }
    this.w.closed(this);
  }

  /**
   * The close path's accounting, once, after the connection's own sockets are
   * dealt with: `phase` is the one it closed in, `now` when (ms,
   * performance.now()'s clock). A relayed connection's duration is observed,
   * everything held is given back (a backend slot wakes the pool's queue), the
   * access line is written (a refused connection's within the worker's bound
   * for refusal lines), and the worker hears of it.
   */
  protected closed(phase: Phase, now: number): void {
    this.wait.cancel();
    if (phase === Phase.Relaying) {
      const since = (now - this.connectedAt) / 1000;
      this.table.backendStats.observe(this.worker, this.held.backend, Histogram.Duration, since);
    }
    if (this.held.releaseAll() >= 0) this.pool.wake();
    try {
      if (!this.w.accessLog || (!this.admitted && this.refusal === null)) return;
      const line = this.accessRecord(now);
      // refused before it was served: within the worker's bound for refusal lines
      if (this.admitted) writeAccessLog(line);
      else this.w.refusals.write(line);
    } finally {
      // after the line: the last connection of a stopping worker lets it say it is drained, and end
      this.w.closed(this);
    }
  }

  /** The connection's access line (access-log.ts), as it closes at `now`. */
  private accessRecord(now: number): AccessRecord {
    return {
      client: this.ctx.clientAddress,
      listener: this.listener.plan.name,
      pool: this.admitted ? this.pool.plan.name : null,
      backend: this.member?.key ?? null,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      connectMs: this.connectMs,
      firstByteMs: this.firstByteMs,
      durationMs: now - this.acceptedAt,
      termination: this.termination,
      error: this.error,
      attempts: this.attempts,
      reason: this.refusal,
      worker: this.worker,
    };
  }
}
