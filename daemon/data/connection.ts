// One client connection from accept to close: admission, the preamble (PROXY
// header in, peek and routing), pick, queue, connect with a timeout, retry on
// another backend while no byte has been relayed, PROXY header out, the relay
// both ways (relay-pump.ts), and one close path that gives back everything the
// connection took (reservations.ts) and writes the access line. An exception on
// its path resets it alone (fault-guard.ts); running out of file descriptors is
// a local error, never the backend's.
import net from 'node:net';
import { Histogram, type ConnectErrorReason, type RejectReason } from '../state/names.js';
import { log } from '../log.js';
import type { PickContext } from './balance/interface.js';
import { admitPeer, admitSource } from './admission.js';
import { clientAddress, type ClientAddress } from '../net/ip.js';
import { writeAccessLog, type AccessRecord } from './access-log.js';
import type { ErrorCode } from '../errors.js';
import { readPreamble, type Origin, type Preamble } from './edge/preamble.js';
import { buildProxyV1, buildProxyV2 } from './edge/proxy-protocol.js';
import type { MemberPlan } from './plan.js';
import type { PoolRuntime, Waiter } from './pool-queue.js';
import { RelayPump } from './relay-pump.js';
import { guardSocket, guardedTimeout, reportFault, resetSocket, type FaultOwner } from './fault-guard.js';
import { isFdExhaustion } from '../process-fds.js';
import { Reservations } from './reservations.js';
import type { ListenerRuntime, OpenConnection, WorkerContext } from './worker-context.js';

const CONNECT_ERROR_CODE: Record<ConnectErrorReason, ErrorCode> = {
  refused: 'E_CONNECT_REFUSED',
  timeout: 'E_CONNECT_TIMEOUT',
  other: 'E_CONNECT_ERROR',
};

const enum Phase {
  Admitting = 0,
  /** reading the PROXY header or peeking at the first bytes */
  Preamble = 1,
  Picking = 2,
  Queued = 3,
  Connecting = 4,
  Relaying = 5,
  Closed = 6,
}

export class Connection extends RelayPump implements OpenConnection, Waiter, FaultOwner {
  private phase = Phase.Admitting;
  private readonly held: Reservations;
  private pool: PoolRuntime;
  /** the backend connected (or being connected) to; null before and after a failed attempt */
  private member: MemberPlan | null = null;
  /** backends a retry must avoid */
  private readonly tried: number[] = [];
  private attempts = 0;
  private readonly acceptedAt: number;
  private connectStartedAt = 0;
  private connectedAt = 0;
  /** past admission and the preamble: the connection is access-logged */
  private admitted = false;
  /** why it was refused (the rejection metric's reason); null while it is not */
  private refusal: RejectReason | null = null;
  private queueTimer: NodeJS.Timeout | null = null;
  /** why no backend took the client: the last failed connect or the refusal; null once one connected */
  private error: ErrorCode | null = null;
  private readonly ctx: PickContext;
  /** bytes already read from the client (the rest after a PROXY header, peeked bytes), relayed first */
  private pending: Buffer | null = null;
  /** the addresses a PROXY header carried, passed on by send_proxy; null = the sockets' own */
  private origin: Origin | null = null;
  /** the client as rules, limits and logs see it: the socket's peer, or the PROXY header's source */
  private peer: ClientAddress;

  constructor(
    private readonly w: WorkerContext,
    private readonly listener: ListenerRuntime,
    client: net.Socket,
  ) {
    super(w.table, w.worker, listener.plan.slot, client);
    this.acceptedAt = performance.now();
    this.held = new Reservations(w.table, w.worker);
    this.pool = listener.pool;
    this.peer = clientAddress(client.remoteAddress);
    this.ctx = { clientAddress: this.peer.text, avoid: this.tried, now: 0, random: Math.random };
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
      // a graceful stop began while it was read: it was never served
      this.client.destroy();
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
      if (edge.router !== null) {
        this.pool = this.w.pool(edge.router.pool(p.peek, this.listener.plan.pool)) ?? this.pool;
      }
    }
    this.origin = p.origin;
    if (p.data !== null && p.data.length > 0) this.pending = p.data;
    if (p.ended) this.clientEnded = true;
    this.pick();
  };

  // ---- pick, queue, connect, retry ----

  private pick(): void {
    this.phase = Phase.Picking;
    this.admitted = true;
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

  private connect(slot: number): void {
    this.phase = Phase.Connecting;
    this.attempts++;
    const m = this.pool.members.get(slot)!;
    this.member = m;
    this.connectStartedAt = performance.now();
    const s = net.connect({ host: m.host, port: m.port, allowHalfOpen: true, noDelay: true });
    this.backend = s;
    guardSocket(s, this);
    s.setTimeout(this.pool.plan.connectTimeout);
    s.on('connect', this.onBackendConnect);
    s.on('timeout', this.onBackendTimeout);
    s.on('error', this.onBackendError);
    s.on('close', this.onBackendClose);
  }

  private readonly onBackendConnect = (): void => {
    const now = performance.now();
    const table = this.table;
    const slot = this.held.backend;
    this.phase = Phase.Relaying;
    this.connectedAt = now;
    this.error = null;
    const ms = now - this.connectStartedAt;
    table.backends.resetConsecutiveFailures(slot);
    table.backendStats.countConnection(this.worker, slot);
    table.backends.updateEwmaConnect(slot, ms);
    table.backendStats.observe(this.worker, slot, Histogram.Connect, ms / 1000);
    const plan = this.pool.plan;
    const header = plan.sendProxy === 'off' ? null : this.proxyHeader(plan.sendProxy);
    this.clientIdle = this.listener.plan.clientIdle;
    this.startRelay(slot, plan.idleTimeout, this.connectStartedAt, header, this.pending);
    this.pending = null;
  };

  // The header carries the client as we know it: the PROXY header's addresses
  // when one came in, else the client socket's peer and local address.
  private proxyHeader(version: 'v1' | 'v2'): Buffer {
    const o = this.origin;
    const c = this.client;
    const src = o ? o.source : { address: this.ctx.clientAddress, port: c.remotePort ?? 0 };
    const dst = o ? o.destination : { address: c.localAddress ?? '', port: c.localPort ?? 0 };
    return version === 'v1' ? buildProxyV1(src, dst) : buildProxyV2(src, dst);
  }

  private readonly onBackendTimeout = (): void => {
    if (this.phase === Phase.Connecting) this.connectFailed('timeout');
    else if (this.phase === Phase.Relaying) this.idleTimeout();
  };

  private readonly onBackendError = (err: NodeJS.ErrnoException): void => {
    if (this.phase === Phase.Connecting) {
      if (isFdExhaustion(err)) return this.outOfFds(err);
      this.connectFailed(err.code === 'ECONNREFUSED' ? 'refused' : err.code === 'ETIMEDOUT' ? 'timeout' : 'other');
      return;
    }
    if (this.phase === Phase.Closed) return;
    this.termination = 'backend_error';
    this.client.destroy();
  };

  // A backend that closed without a FIN (reset) takes the client down with it;
  // after a clean FIN the client may still be reading what was sent. The client's
  // own 'close' always comes last and closes the connection.
  private readonly onBackendClose = (): void => {
    if (this.phase === Phase.Relaying && !this.backendEnded) this.client.destroy();
  };

  // Retry only before the first byte: after that the client may have acted on a
  // partial response.
  private connectFailed(reason: ConnectErrorReason): void {
    const table = this.table;
    const worker = this.worker;
    const b = this.backend!;
    b.removeListener('close', this.onBackendClose);
    b.destroy();
    this.backend = null;
    this.member = null;
    const slot = this.held.releaseBackend();
    table.backendStats.countConnectError(worker, slot, reason);
    this.error = CONNECT_ERROR_CODE[reason];
    this.pool.wake();
    const fails = table.backends.addConsecutiveFailure(slot);
    const threshold = this.pool.plan.passiveFailures;
    if (threshold > 0 && fails === threshold) {
      table.backendStats.countPassiveFailure(worker, slot);
      this.w.reportPassive(slot);
    }
    if (this.client.destroyed) {
      // the client is going: its 'close' (next) would find nothing to stop
      this.client.destroy();
      return this.close();
    }
    this.tried.push(slot);
    if (this.attempts <= this.pool.plan.retries) {
      table.backendStats.countRetry(worker, slot);
      return this.pick();
    }
    this.refuse('no_backend');
  }

  // No descriptor for the backend socket (EMFILE/ENFILE): our limit, not the backend's: no connect
  // error or passive count, no retry (it needs a descriptor too); the worker stops accepting a while.
  private outOfFds(err: NodeJS.ErrnoException): void {
    const b = this.backend!;
    b.removeListener('close', this.onBackendClose);
    b.destroy();
    this.backend = null;
    this.member = null;
    this.held.releaseBackend();
    this.pool.wake();
    this.error = 'E_FD_EXHAUSTED';
    this.w.outOfFds(err);
    if (this.client.destroyed) return this.close();
    this.refuse('fd_exhaustion');
  }

  // ---- the end ----

  private readonly onClientError = (): void => {
    if (this.phase === Phase.Closed) return;
    this.termination = 'client_error';
    this.backend?.destroy();
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

  /** Refuse the connection, counted on the listener under `reason`. */
  private refuse(reason: RejectReason): void {
    this.termination =
      reason === 'queue_timeout' ? 'queue_timeout' : reason === 'no_backend' ? 'no_backend' : 'rejected';
    this.refusal = reason;
    if (reason === 'queue_timeout') this.error = 'E_QUEUE_TIMEOUT';
    else if (this.admitted) this.error ??= 'E_NO_BACKEND';
    this.table.listeners.countRejected(this.worker, this.listenerSlot, reason);
    this.client.destroy();
    this.close();
  }

  /** The one close path: give back what is held, once, and write the access line. */
  private close(): void {
    const phase = this.phase;
    if (phase === Phase.Closed) return;
    this.phase = Phase.Closed;
    if (this.queueTimer !== null) clearTimeout(this.queueTimer);
    this.queueTimer = null;
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
        connectMs: this.connectedAt ? this.connectedAt - this.connectStartedAt : -1,
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
