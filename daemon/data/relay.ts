// One client connection, end to end: pick a backend, connect with a timeout,
// retry on another backend while no byte has been relayed, then relay both ways
// with backpressure and half-close, and account for it on close.
import net from 'node:net';
import { Histogram, type ConnectErrorReason, type RejectReason } from '../state/names.js';
import type { Table } from '../state/table.js';
import type { PickContext } from './balance/interface.js';
import type { PoolRuntime, Termination, WorkerServices } from './worker-runtime.js';
import { buildProxyV1, buildProxyV2 } from './edge/proxy-protocol.js';
import type { Origin } from './edge/preamble.js';
import type { SourceLimiter } from './edge/source-limits.js';
import type { ErrorCode } from '../errors.js';

const CONNECT_ERROR_CODE: Record<ConnectErrorReason, ErrorCode> = {
  refused: 'E_CONNECT_REFUSED',
  timeout: 'E_CONNECT_TIMEOUT',
  other: 'E_CONNECT_ERROR',
};

const enum Phase {
  Picking = 0,
  Queued = 1,
  Connecting = 2,
  Relaying = 3,
  Closed = 4,
}

export class Connection {
  private phase = Phase.Picking;
  private backend: net.Socket | null = null;
  private slot = -1;
  private readonly tried: number[] = [];
  private attempts = 0;
  private readonly acceptedAt: number;
  private connectStartedAt = 0;
  private connectedAt = 0;
  private firstByteSeen = false;
  private bytesIn = 0;
  private bytesOut = 0;
  private clientEnded = false;
  private backendEnded = false;
  private termination: Termination = 'client_close';
  /** why no backend took the client: the last failed connect or the refusal; null once one connected */
  private error: ErrorCode | null = null;
  private queueTimer: NodeJS.Timeout | null = null;
  private readonly ctx: PickContext;
  /** bytes already read from the client (peeked headers) to send to the backend first */
  private pending: Buffer | null = null;
  /** addresses from the client's PROXY header, passed on by send_proxy; null = the sockets' own */
  origin: Origin | null = null;
  /** the shared per-source entry this connection is counted on (released on close), or -1 */
  source = -1;
  sourceLimiter: SourceLimiter | null = null;

  constructor(
    private readonly svc: WorkerServices,
    readonly listenerSlot: number,
    private readonly pool: PoolRuntime,
    private readonly client: net.Socket,
    clientAddress: string,
  ) {
    this.acceptedAt = performance.now();
    this.ctx = { clientAddress, avoid: this.tried, now: this.acceptedAt, random: Math.random };
    client.on('error', this.onClientError);
    client.on('close', this.onClientClose);
  }

  /** Begin with bytes already consumed from the client (PROXY header rest, peeked ClientHello). */
  setInitialBytes(buf: Buffer | null): void {
    if (buf && buf.length > 0) this.pending = buf;
  }

  /** The client sent FIN before the relay began (seen while peeking). */
  markClientEnded(): void {
    this.clientEnded = true;
  }

  start(): void {
    if (this.phase === Phase.Closed) return;
    this.pickAndConnect();
  }

  /** Graceful stop does not cut connections; an immediate stop does. */
  destroy(reason: Termination): void {
    if (this.phase === Phase.Closed) return;
    this.termination = reason;
    this.client.destroy();
    this.backend?.destroy();
    this.finish();
  }

  private get table(): Table {
    return this.svc.table;
  }

  private pickAndConnect(): void {
    this.phase = Phase.Picking;
    this.ctx.now = performance.now();
    const slot = this.pool.picker.acquire(this.svc.worker, this.ctx);
    if (slot < 0) {
      if (this.pool.picker.lastFailure === 'full' && this.pool.plan.queueSize > 0 && this.enqueue()) return;
      this.reject(this.pool.picker.lastFailure === 'full' ? 'max_connections' : 'no_backend');
      return;
    }
    this.slot = slot;
    this.connect();
  }

  private enqueue(): boolean {
    if (this.pool.queue.length >= this.pool.plan.queueSize) return false;
    this.phase = Phase.Queued;
    this.pool.queue.push(this);
    this.table.pools.addQueued(this.pool.plan.slot, 1);
    this.queueTimer = setTimeout(this.onQueueTimeout, this.pool.plan.queueTimeout);
    this.svc.ensureQueuePoll();
    return true;
  }

  /** Called by the pool when a slot may have been freed. Returns false if still waiting. */
  retryFromQueue(): boolean {
    if (this.phase !== Phase.Queued) return true;
    this.ctx.now = performance.now();
    const slot = this.pool.picker.acquire(this.svc.worker, this.ctx);
    if (slot < 0) return false;
    this.leaveQueue();
    this.slot = slot;
    this.connect();
    return true;
  }

  private leaveQueue(): void {
    const i = this.pool.queue.indexOf(this);
    if (i >= 0) this.pool.queue.splice(i, 1);
    this.table.pools.addQueued(this.pool.plan.slot, -1);
    if (this.queueTimer) clearTimeout(this.queueTimer);
    this.queueTimer = null;
    this.phase = Phase.Picking;
  }

  private onQueueTimeout = (): void => {
    if (this.phase !== Phase.Queued) return;
    this.leaveQueue();
    this.reject('queue_timeout');
  };

  private connect(): void {
    this.phase = Phase.Connecting;
    this.attempts++;
    const m = this.pool.members.get(this.slot)!;
    this.connectStartedAt = performance.now();
    const s = net.connect({ host: m.host, port: m.port, allowHalfOpen: true, noDelay: true });
    this.backend = s;
    s.setTimeout(this.pool.plan.connectTimeout);
    s.on('connect', this.onBackendConnect);
    s.on('timeout', this.onBackendTimeout);
    s.on('error', this.onBackendError);
    s.on('close', this.onBackendClose);
  }

  private onBackendConnect = (): void => {
    const now = performance.now();
    const table = this.table;
    const w = this.svc.worker;
    this.phase = Phase.Relaying;
    this.connectedAt = now;
    this.error = null;
    const ms = now - this.connectStartedAt;
    table.backends.resetConsecutiveFailures(this.slot);
    table.backendStats.countConnection(w, this.slot);
    table.backends.updateEwmaConnect(this.slot, ms);
    table.backendStats.observe(w, this.slot, Histogram.Connect, ms / 1000);
    const b = this.backend!;
    // A client read from before the relay (PROXY header, peek) may have had its
    // FIN emitted while nobody listened: net.Socket emits 'end' even when paused.
    if (this.client.readableEnded) this.clientEnded = true;
    b.setTimeout(this.pool.plan.idleTimeout);
    this.client.setTimeout(this.pool.plan.idleTimeout);
    this.client.on('timeout', this.onIdleTimeout);
    b.on('data', this.onBackendData);
    b.on('end', this.onBackendEnd);
    b.on('drain', this.onBackendDrain);
    this.client.on('data', this.onClientData);
    this.client.on('end', this.onClientEnd);
    this.client.on('drain', this.onClientDrain);
    if (this.pool.plan.sendProxy !== 'off') b.write(this.proxyHeader(this.pool.plan.sendProxy));
    if (this.pending) {
      this.onClientData(this.pending);
      this.pending = null;
    }
    if (this.clientEnded) b.end();
    else this.client.resume();
  };

  // The header carries the client as we know it: the PROXY header's addresses
  // when one came in, else the client socket's peer and local address.
  private proxyHeader(version: 'v1' | 'v2'): Buffer {
    const o = this.origin;
    const src = o ? o.source : { address: this.ctx.clientAddress, port: this.client.remotePort ?? 0 };
    const dst = o ? o.destination : { address: this.client.localAddress ?? '', port: this.client.localPort ?? 0 };
    return version === 'v1' ? buildProxyV1(src, dst) : buildProxyV2(src, dst);
  }

  private onClientData = (chunk: Buffer): void => {
    this.bytesIn += chunk.length;
    this.table.backendStats.addBytesIn(this.svc.worker, this.slot, chunk.length);
    this.table.listeners.addBytesIn(this.svc.worker, this.listenerSlot, chunk.length);
    if (!this.backend!.write(chunk)) this.client.pause();
  };

  private onBackendData = (chunk: Buffer): void => {
    if (!this.firstByteSeen) {
      this.firstByteSeen = true;
      const ms = performance.now() - this.connectStartedAt;
      this.table.backends.updateEwmaFirstByte(this.slot, ms);
      this.table.backendStats.observe(this.svc.worker, this.slot, Histogram.FirstByte, ms / 1000);
    }
    this.bytesOut += chunk.length;
    this.table.backendStats.addBytesOut(this.svc.worker, this.slot, chunk.length);
    this.table.listeners.addBytesOut(this.svc.worker, this.listenerSlot, chunk.length);
    if (!this.client.write(chunk)) this.backend!.pause();
  };

  private onBackendDrain = (): void => {
    this.client.resume();
  };
  private onClientDrain = (): void => {
    this.backend?.resume();
  };

  // Half-close: a FIN from one side is passed on as a FIN to the other, which may
  // keep sending; the connection ends when both directions have ended.
  private onClientEnd = (): void => {
    this.clientEnded = true;
    if (this.phase === Phase.Relaying) this.backend!.end();
  };
  private onBackendEnd = (): void => {
    this.backendEnded = true;
    if (!this.clientEnded) this.termination = 'backend_close';
    this.client.end();
  };

  private onIdleTimeout = (): void => {
    this.termination = 'idle_timeout';
    this.client.destroy();
    this.backend?.destroy();
  };

  private onBackendTimeout = (): void => {
    if (this.phase === Phase.Connecting) this.connectFailed('timeout');
    else this.onIdleTimeout();
  };

  private onBackendError = (err: NodeJS.ErrnoException): void => {
    if (this.phase === Phase.Connecting) {
      this.connectFailed(err.code === 'ECONNREFUSED' ? 'refused' : err.code === 'ETIMEDOUT' ? 'timeout' : 'other');
      return;
    }
    if (this.phase === Phase.Closed) return;
    this.termination = 'backend_error';
    this.client.destroy();
  };

  // A backend that closed without a FIN (reset) takes the client down with it;
  // after a clean FIN the client may still be reading what was sent. The client's
  // own 'close' always comes last and finishes the connection.
  private onBackendClose = (): void => {
    if (this.phase === Phase.Relaying && !this.backendEnded) this.client.destroy();
  };

  private onClientError = (): void => {
    if (this.phase === Phase.Closed) return;
    this.termination = 'client_error';
    this.backend?.destroy();
  };

  private onClientClose = (): void => {
    if (this.phase === Phase.Queued) this.leaveQueue();
    if (this.phase === Phase.Connecting) {
      // the client gave up while we were connecting: nothing to relay
      this.backend?.destroy();
    } else if (this.phase === Phase.Relaying && !(this.clientEnded && this.backendEnded)) {
      // the client is gone while the backend still talks: nobody is left to deliver to
      this.backend?.destroy();
    }
    this.finish();
  };

  // Retry only before the first byte: after that the client may have acted on a
  // partial response.
  private connectFailed(reason: ConnectErrorReason): void {
    const table = this.table;
    const w = this.svc.worker;
    const slot = this.slot;
    const b = this.backend!;
    b.removeListener('close', this.onBackendClose);
    b.destroy();
    this.backend = null;
    table.backendStats.countConnectError(w, slot, reason);
    this.error = CONNECT_ERROR_CODE[reason];
    table.backends.release(w, slot);
    this.slot = -1;
    this.svc.slotReleased(this.pool);
    const fails = table.backends.addConsecutiveFailure(slot);
    const threshold = this.pool.plan.passiveFailures;
    if (threshold > 0 && fails === threshold) {
      table.backendStats.countPassiveFailure(w, slot);
      this.svc.reportPassive(slot);
    }
    if (this.client.destroyed) {
      this.finish();
      return;
    }
    this.tried.push(slot);
    if (this.attempts <= this.pool.plan.retries) {
      table.backendStats.countRetry(w, slot);
      this.pickAndConnect();
      return;
    }
    this.reject('no_backend');
  }

  private reject(reason: RejectReason): void {
    this.termination =
      reason === 'queue_timeout' ? 'queue_timeout' : reason === 'no_backend' ? 'no_backend' : 'rejected';
    if (reason === 'queue_timeout') this.error = 'E_QUEUE_TIMEOUT';
    else this.error ??= 'E_NO_BACKEND';
    this.table.listeners.countRejected(this.svc.worker, this.listenerSlot, reason);
    this.client.destroy();
    this.finish();
  }

  private finish(): void {
    if (this.phase === Phase.Closed) return;
    const wasRelaying = this.phase === Phase.Relaying;
    if (this.phase === Phase.Queued) this.leaveQueue();
    this.phase = Phase.Closed;
    const table = this.table;
    const w = this.svc.worker;
    if (this.slot >= 0) {
      if (wasRelaying) {
        table.backendStats.observe(w, this.slot, Histogram.Duration, (performance.now() - this.connectedAt) / 1000);
      }
      table.backends.release(w, this.slot);
      this.svc.slotReleased(this.pool);
    }
    this.svc.connectionClosed(this);
    if (this.svc.accessLog) {
      this.svc.writeAccessLog({
        client: this.ctx.clientAddress,
        listenerSlot: this.listenerSlot,
        pool: this.pool.plan.name,
        backendSlot: this.slot,
        bytesIn: this.bytesIn,
        bytesOut: this.bytesOut,
        connectMs: this.connectedAt ? this.connectedAt - this.connectStartedAt : -1,
        durationMs: performance.now() - this.acceptedAt,
        termination: this.termination,
        error: this.error,
        attempts: this.attempts,
      });
    }
  }
}
