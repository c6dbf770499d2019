// One client connection from accept to close: admission, the preamble (PROXY
// header in, peek and routing), pick and queue, the attempts at backends
// (backend-attempt.ts: connect, retry, PROXY header out, failures and resets),
// the relay both ways (first-bytes.ts, relay-pump.ts), and one close path that
// gives back everything the connection took (reservations.ts) and writes the
// access line. An exception on its path resets it alone (fault-guard.ts);
// running out of file descriptors is a local error, never the backend's
// (backend-attempt.ts).
import type net from 'node:net';
import { Histogram, type PeekMissReason, type Protocol, type RejectReason } from '../state/names.js';
import { log } from '../log.js';
import { admitPeer, admitSource } from './admission.js';
import { writeAccessLog, type AccessRecord } from './access-log.js';
import { BackendAttempt, isReset, Phase } from './backend-attempt.js';
import { guardSocket, guardedTimeout, reportFault, resetSocket } from './fault-guard.js';
import { readPreamble, type Preamble } from './edge/preamble.js';
import { ProtocolWatch } from './edge/protocol-watch.js';
import type { Waiter } from './pool-queue.js';
import type { ListenerRuntime, OpenConnection, WorkerContext } from './worker-context.js';

export class Connection extends BackendAttempt implements OpenConnection, Waiter {
  private readonly acceptedAt: number;
  /** past admission and the preamble: the connection is access-logged */
  private admitted = false;
  /** why it was refused (the rejection metric's reason); null while it is not */
  private refusal: RejectReason | null = null;
  private queueTimer: NodeJS.Timeout | null = null;

  constructor(w: WorkerContext, listener: ListenerRuntime, client: net.Socket) {
    super(w, listener, client);
    this.acceptedAt = performance.now();
    guardSocket(client, this);
    client.on('error', this.onClientError);
    client.on('close', this.onClientClose);
  }

  /** Admit the connection and start serving it, or refuse it (counted by reason). */
  open(): void {
    const slot = this.listenerSlot;
    if (!this.table.listeners.enabled(slot)) return this.refuse('disabled');
    const edge = this.listener.edge;
    if (edge !== null) {
      const reason = admitPeer(edge, this.peer, this.held);
      if (reason !== null) return this.refuse(reason);
    }
    if (!this.held.takeListener(slot, this.w.limit)) return this.refuse('max_connections');
    if (edge === null || !edge.preamble) return this.pick();
    this.phase = Phase.Preamble;
    readPreamble(edge, this.client, this.peer)
      .then(this.onPreamble)
      .catch((err: unknown) => this.fault(err, 'preamble'));
  }

  /** Cut both sides now (an immediate stop, the worker failing) with a reset: not taken for a complete stream. */
  abort(termination: 'shutdown' | 'internal_error'): void {
    if (this.phase === Phase.Closed) return;
    this.termination = termination;
    resetSocket(this.client);
    resetSocket(this.backend);
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
    resetSocket(this.client);
    resetSocket(this.backend);
    if (!first) return;
    try {
      this.close();
    } catch {
      // the close path is what failed: the worker's set must not keep the connection
    }
    this.w.closed(this);
  }

  private readonly onPreamble = (p: Preamble): void => {
    // the client went away meanwhile (closed by onClientClose), or an immediate stop cut it
    if (this.phase !== Phase.Preamble) return;
    const edge = this.listener.edge!;
    if (!p.ok) {
      if (p.reason === 'closed') return this.close();
      log.debug('PROXY header rejected', {
        listener: this.listener.plan.name,
        client: this.ctx.clientAddress,
        reason: p.detail,
      });
      return this.refuse('proxy_header');
    }
    if (this.w.stopping) {
      // a graceful stop began while it was read: it was never served, and must not look served
      resetSocket(this.client);
      return this.close();
    }
    if (edge.trusted !== null) {
      this.peer = p.client;
      this.ctx.clientAddress = p.client.text;
      const reason = admitSource(edge, p.client, this.held);
      if (reason !== null) return this.refuse(reason);
    }
    if (p.peek !== null) {
      this.table.listeners.countProtocol(this.worker, this.listenerSlot, p.peek.protocol ?? 'unknown');
      const slot = edge.router!.route(p.peek);
      if (slot >= 0) this.pool = this.w.pool(slot) ?? this.pool;
      // cut short, or no route took a client whose server name could not be read
      const miss = p.cut ?? (slot < 0 ? p.peek.miss : null);
      if (miss !== null) this.peekMissed(miss, p.data);
    }
    this.origin = p.origin;
    if (p.data !== null && p.data.length > 0) this.pending = p.data;
    if (p.ended) this.clientEnded = true;
    this.pick();
  };

  /** The peek ended without a verdict: the listener's pool was used. Counted by reason, logged at debug. */
  private peekMissed(reason: PeekMissReason, data: Buffer | null): void {
    this.table.listeners.countPeekMiss(this.worker, this.listenerSlot, reason);
    log.debug('peek ended without a verdict', {
      listener: this.listener.plan.name,
      client: this.ctx.clientAddress,
      reason,
      bytes: data?.length ?? 0,
    });
  }

  // ---- pick and queue ----

  protected pick(): void {
    this.phase = Phase.Picking;
    if (!this.admitted) {
      this.admitted = true;
      const edge = this.listener.edge;
      if (edge !== null && edge.watchesProtocol) this.watch = new ProtocolWatch(edge.inspectBytes);
      this.keepForReplay(this.pool.plan.replayBytes);
    }
    this.readWhileWaiting();
    const pool = this.pool;
    // a new connection takes its place behind those already waiting, in any worker
    if (this.attempts === 0 && pool.plan.queueSize > 0 && pool.queue.othersWaiting) {
      if (!this.enqueue()) this.refuse('max_connections');
      return;
    }
    this.ctx.now = performance.now();
    const slot = pool.picker.acquire(this.worker, this.ctx);
    if (slot >= 0) {
      this.held.tookBackend(slot);
      return this.connect(slot);
    }
    const full = pool.picker.lastFailure === 'full';
    if (full && this.enqueue()) return;
    this.refuse(full ? 'max_connections' : 'no_backend');
  }

  /** Wait in the pool's queue; false when it is full (queue_size over all workers, 0 = no queue). */
  private enqueue(): boolean {
    const pool = this.pool;
    if (!this.held.enterQueue(pool.queue, this, pool.plan.queueSize)) return false;
    this.phase = Phase.Queued;
    // whichever backend frees first serves a waiter, one it tried before it waited included
    this.tried.length = 0;
    this.queueTimer = guardedTimeout(this, this.onQueueTimeout, pool.plan.queueTimeout);
    pool.queue.wake();
    return true;
  }

  /** Called by the pool when a backend slot may be free. Returns false while still waiting. */
  retryFromQueue(): boolean {
    if (this.phase !== Phase.Queued) return true;
    this.ctx.now = performance.now();
    const slot = this.pool.picker.acquire(this.worker, this.ctx);
    if (slot < 0) return false;
    this.leaveQueue();
    this.held.tookBackend(slot);
    this.connect(slot);
    return true;
  }

  private leaveQueue(): void {
    this.held.leaveQueue();
    if (this.queueTimer !== null) clearTimeout(this.queueTimer);
    this.queueTimer = null;
    this.phase = Phase.Picking;
  }

  private readonly onQueueTimeout = (): void => {
    this.queueTimer = null;
    if (this.phase !== Phase.Queued) return;
    this.leaveQueue();
    this.refuse('queue_timeout');
  };

  protected protocolSeen(p: Protocol): void {
    this.table.listeners.countProtocol(this.worker, this.listenerSlot, p);
  }

  // ---- the end ----

  private readonly onClientError = (err: NodeJS.ErrnoException): void => {
    if (this.phase === Phase.Closed || this.aborted !== null) return;
    this.abortBy('client', isReset(err) ? 'client_reset' : 'client_error');
  };

  private readonly onClientClose = (): void => {
    if (this.phase === Phase.Connecting) {
      // the client gave up while we were connecting: nothing to relay
      this.backend?.destroy();
    } else if (this.phase === Phase.Relaying && !(this.clientEnded && this.backendEnded)) {
      // the client is gone while the backend still talks: nobody is left to deliver to
      this.backend?.destroy();
    }
    this.close();
  };

  /**
   * Refuse the connection, counted on the listener under `reason`. The client
   * gets a reset, never a clean FIN: a client that has not sent yet (or a
   * protocol whose server speaks last) would take a FIN with no byte for an
   * exchange that completed.
   */
  protected refuse(reason: RejectReason): void {
    this.termination =
      reason === 'queue_timeout' ? 'queue_timeout' : reason === 'no_backend' ? 'no_backend' : 'rejected';
    this.refusal = reason;
    if (reason === 'queue_timeout') this.error = 'E_QUEUE_TIMEOUT';
    else if (this.admitted) this.error ??= 'E_NO_BACKEND';
    this.table.listeners.countRejected(this.worker, this.listenerSlot, reason);
    resetSocket(this.client);
    this.close();
  }

  /** The one close path: give back what is held, once, and write the access line. */
  protected close(): void {
    const phase = this.phase;
    if (phase === Phase.Closed) return;
    this.phase = Phase.Closed;
    if (this.queueTimer !== null) clearTimeout(this.queueTimer);
    this.queueTimer = null;
    this.attemptEnded();
    if (this.admitted) this.watchFinal();
    const now = performance.now();
    if (phase === Phase.Relaying) {
      this.table.backendStats.observe(
        this.worker,
        this.backendSlot,
        Histogram.Duration,
        (now - this.connectedAt) / 1000,
      );
    }
    if (this.held.releaseAll() >= 0) this.pool.wake();
    this.w.closed(this);
    if (this.w.accessLog && (this.admitted || this.refusal !== null)) {
      const line: AccessRecord = {
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
      // refused before it was served: within the worker's bound for refusal lines
      if (this.admitted) writeAccessLog(line);
      else this.w.refusals.write(line);
    }
  }
}
