// A connection's attempts at a backend: connect with a timeout, the PROXY
// header out, the relay's start, and what a backend's failure means: a failed
// connect, a backend that closes or resets before its first byte, or one that
// sends nothing within timeouts.first_byte is counted (connect errors, response
// errors, passive health) and retried on another backend while nothing has
// happened yet, or, opted in, with the client's bytes replayed; a reset from
// either side once relaying is passed on as a reset. Out of file descriptors
// for the backend socket (EMFILE/ENFILE) is netmon's own limit, never counted
// against the backend. Connection (connection.ts) extends this class and owns
// the rest of the connection's life.
import net from 'node:net';
import { Histogram, type ConnectErrorReason, type ResetSide } from '../state/names.js';
import { clientAddress } from '../net/ip.js';
import type { Termination } from './access-log.js';
import { CONNECT_ERROR_CODE, Phase } from './connection-base.js';
import { buildProxyV1, buildProxyV2 } from './edge/proxy-protocol.js';
import { guardSocket, resetSocket } from './fault-guard.js';
import { isFdExhaustion } from '../process-fds.js';
import { FirstBytes } from './first-bytes.js';
import type { ListenerRuntime, WorkerContext } from './worker-context.js';

/** A peer that sent RST: ECONNRESET on a read, EPIPE on a write to it. */
export function isReset(err: NodeJS.ErrnoException): boolean {
  return err.code === 'ECONNRESET' || err.code === 'EPIPE';
}

// a failed attempt's socket gets none of our handlers any more, but an 'error' must not throw
function ignore(): void {}

/** bytes read from a client while its backend is picked, queued for or connected to, before it is paused */
const WAITING_BYTES = 64 * 1024;

export abstract class BackendAttempt extends FirstBytes {
  /** the side whose reset (or socket failure) ended the connection; null otherwise */
  protected aborted: ResetSide | null = null;

  constructor(w: WorkerContext, listener: ListenerRuntime, client: net.Socket) {
    super(w, listener, clientAddress(client.remoteAddress), client);
  }

  /** Pick a backend (again, after a failed attempt), wait in the queue, or refuse. */
  protected abstract pick(): void;

  /**
   * While a backend is picked, queued for or connected to, the client is read
   * (into `pending`, at most WAITING_BYTES) so that its FIN or reset is seen
   * now, not once a backend answers: a reset cancels the attempt.
   */
  protected readWhileWaiting(): void {
    const c = this.client;
    // once: a retry after a failed connect comes here again with it still attached
    c.removeListener('data', this.onWaitingData);
    c.on('data', this.onWaitingData);
    if (this.pending === null || this.pending.length < WAITING_BYTES) c.resume();
  }

  private readonly onWaitingData = (chunk: Buffer): void => {
    const p = this.pending;
    const all = p === null ? chunk : Buffer.concat([p, chunk]);
    this.pending = all;
    if (all.length >= WAITING_BYTES) this.client.pause();
  };

  protected connect(slot: number): void {
    this.phase = Phase.Connecting;
    this.attempts++;
    const m = this.pool.members.get(slot)!;
    this.member = m;
    this.connectStartedAt = performance.now();
    this.connectMs = -1;
    const s = net.connect({ host: m.host, port: m.port, allowHalfOpen: true, noDelay: true });
    this.backend = s;
    guardSocket(s, this);
    s.setTimeout(this.pool.plan.connectTimeout);
    s.on('connect', this.onBackendConnect);
    s.on('timeout', this.onBackendTimeout);
    s.on('error', this.onBackendError);
    s.on('close', this.onBackendClose);
  }

  // A connect says nothing yet about the backend's health (a stopped process's
  // kernel still accepts): its consecutive failures are cleared by its first
  // byte (first-bytes.ts), not here.
  private readonly onBackendConnect = (): void => {
    if (this.phase !== Phase.Connecting) return;
    const table = this.table;
    const slot = this.held.backend;
    this.phase = Phase.Relaying;
    // the relay takes the client over (in the same tick: no chunk falls between)
    this.client.removeListener('data', this.onWaitingData);
    this.error = null;
    const ms = performance.now() - this.connectStartedAt;
    this.connectMs = ms;
    table.backendStats.countConnection(this.worker, slot);
    table.backends.updateEwmaConnect(slot, ms);
    table.backendStats.observe(this.worker, slot, Histogram.Connect, ms / 1000);
    const plan = this.pool.plan;
    const header = plan.sendProxy === 'off' ? null : this.proxyHeader(plan.sendProxy);
    // a retry after an empty response replays what the client sent (counted for this backend only)
    const replay = this.replay;
    const replayed = replay !== null && replay.length > 0 ? Buffer.concat(replay) : null;
    if (replayed !== null) table.backendStats.addBytesIn(this.worker, slot, replayed.length);
    const preface = header === null ? replayed : replayed === null ? header : Buffer.concat([header, replayed]);
    this.attemptStarted(plan.firstByteTimeout, replayed !== null);
    this.clientIdle = this.listener.plan.clientIdle;
    this.startRelay(slot, plan.idleTimeout, preface, this.pending);
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
    if (this.phase !== Phase.Relaying || this.aborted !== null) return;
    const reset = isReset(err);
    // (after the backend's FIN was passed on as its answer, a reset is no empty response)
    if (this.bytesOut === 0 && !this.backendEnded && this.emptyResponse(reset)) return;
    this.abortBy('backend', reset ? 'backend_reset' : 'backend_error');
  };

  // A reset or a failure is handled by onBackendError, a FIN by the relay (the
  // client may still be reading what was sent). This is the net for a backend
  // socket that closed any other way: the stream was cut, so the client gets a
  // reset. The client's own 'close' always comes last and closes the connection.
  private readonly onBackendClose = (): void => {
    if (this.phase === Phase.Relaying && !this.backendEnded && this.aborted === null) resetSocket(this.client);
  };

  protected backendEndedEmpty(): boolean {
    if (this.emptyResponse(false)) return true;
    // passed on as a FIN (half-close): the backend's whole answer
    this.answeredWithFin();
    return false;
  }

  /**
   * The backend closed (FIN, or a reset when `reset`) before sending a byte.
   * That is the backend failing when nothing has happened yet (no byte either
   * way, within timeouts.connect of the connect: a process that died with
   * connections in its accept queue, whose kernel resets them), or when the
   * client sent its bytes, still waits, and they can be replayed (retry_on
   * empty_response, within retry_buffer). Such a failure is counted (response
   * errors, passive health) and retried elsewhere while attempts remain.
   * Returns true when the connection was taken to another backend; else the
   * caller passes it on as it came: a FIN as a half-close (the client may
   * still send), a reset as a reset.
   */
  private emptyResponse(reset: boolean): boolean {
    const plan = this.pool.plan;
    const silent =
      this.bytesIn === 0 && !this.clientEnded && performance.now() - this.connectedAt <= plan.connectTimeout;
    const replayable = this.replay !== null && this.bytesIn > 0 && (reset || !this.clientEnded);
    if (!silent && !replayable) {
      // a FIN that answers the client's: the backend is alive
      if (!reset && this.clientEnded) this.table.backends.resetConsecutiveFailures(this.backendSlot);
      return false;
    }
    this.table.backendStats.countResponseError(this.worker, this.backendSlot, 'empty');
    this.backendFailed(this.backendSlot);
    this.error = 'E_EMPTY_RESPONSE';
    return ((silent && plan.retryConnect) || replayable) && this.retryElsewhere();
  }

  /** Nothing from the backend within timeouts.first_byte of the client's first byte. */
  protected firstByteTimedOut(): void {
    if (this.phase !== Phase.Relaying || this.aborted !== null) return;
    this.table.backendStats.countResponseError(this.worker, this.backendSlot, 'timeout');
    this.backendFailed(this.backendSlot);
    this.error = 'E_FIRST_BYTE_TIMEOUT';
    if (this.replay !== null && this.retryElsewhere()) return;
    // the exchange is cut short: both sides see a reset, not a complete empty answer
    this.termination = 'first_byte_timeout';
    resetSocket(this.backend!);
    resetSocket(this.client);
  }

  /** Take the connection to another backend while attempts remain. Returns true when it did. */
  private retryElsewhere(): boolean {
    if (this.attempts > this.pool.plan.retries || this.client.destroyed) return false;
    this.detachClient();
    const slot = this.dropBackend();
    this.tried.push(slot);
    this.table.backendStats.countRetry(this.worker, slot);
    this.pick();
    return true;
  }

  /** Let go of the current backend after a failed attempt: its socket is closed, its slot given back. */
  private dropBackend(): number {
    this.attemptEnded();
    const b = this.backend!;
    b.removeAllListeners();
    b.on('error', ignore);
    // a connected backend is reset: it must not take a half-sent exchange for a complete one
    resetSocket(b);
    this.backend = null;
    this.member = null;
    const slot = this.held.releaseBackend();
    this.pool.wake();
    return slot;
  }

  // Retry only before the first byte: after that the client may have acted on a
  // partial response.
  private connectFailed(reason: ConnectErrorReason): void {
    const slot = this.dropBackend();
    this.table.backendStats.countConnectError(this.worker, slot, reason);
    this.error = CONNECT_ERROR_CODE[reason];
    this.backendFailed(slot);
    if (this.client.destroyed) {
      // the client is going: its 'close' (next) would find nothing to stop
      this.client.destroy();
      return this.close();
    }
    this.tried.push(slot);
    const plan = this.pool.plan;
    if (plan.retryConnect && this.attempts <= plan.retries) {
      this.table.backendStats.countRetry(this.worker, slot);
      return this.pick();
    }
    // the attempts failed: not the same as no backend to try
    this.refuse('connect_failed');
  }

  // No descriptor for the backend socket (EMFILE/ENFILE): our limit, not the backend's: no connect
  // error or passive count, no retry (it needs a descriptor too); the worker stops accepting a while.
  private outOfFds(err: NodeJS.ErrnoException): void {
    this.dropBackend();
    this.error = 'E_FD_EXHAUSTED';
    this.w.outOfFds(err);
    if (this.client.destroyed) return this.close();
    this.refuse('fd_exhaustion');
  }

  /**
   * `side` reset the connection (or its socket failed): the other side gets a
   * reset, never a clean FIN that would pass a cut-off exchange for a complete
   * one. Counted on the listener in every phase, on the backend once relaying.
   * While connecting, the backend socket is dropped before it is established.
   */
  protected abortBy(side: ResetSide, why: Termination): void {
    this.aborted = side;
    this.termination = why;
    this.table.listeners.countReset(this.worker, this.listenerSlot, side);
    const other = side === 'client' ? this.backend : this.client;
    if (other === null) return;
    if (this.phase === Phase.Relaying) {
      this.table.backendStats.countReset(this.worker, this.backendSlot, side);
      resetSocket(other);
    } else other.destroy();
  }
}
