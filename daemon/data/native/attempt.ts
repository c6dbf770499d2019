// A natively relayed connection's attempts at a backend (connection.ts owns
// the rest of its life): pick, the pool's queue, the connect (by the relay, or
// after a lookup for a backend given by name), retries on another backend
// under retry_on connect_failure, the PROXY header out, and what the relay
// reports of the attempt: connected, the backend's first byte, an empty answer
// (the backend closed or reset before its first byte while that is its
// failure) and a first-byte timeout, counted and retried (with the client's
// bytes replayed under retry_on empty_response) as the Node relay does
// (../backend-attempt.ts). Its timer and its
// lookup run under the connection's fault guard (../fault-guard.ts); no
// descriptor for the backend socket (EMFILE/ENFILE) is netmon's own limit,
// never the backend's, as on the Node relay.
import net from 'node:net';
import { lookup } from 'node:dns/promises';
import { constants } from 'node:os';
import { Histogram, type ConnectErrorReason, type RejectReason } from '../../state/names.js';
import type { Table } from '../../state/table.js';
import type { ErrorCode } from '../../errors.js';
import { clientAddress, type ClientAddress } from '../../net/ip.js';
import type { PickContext } from '../balance/interface.js';
import type { Termination } from '../access-log.js';
import type { Origin } from '../edge/preamble.js';
import { buildProxyV1, buildProxyV2 } from '../edge/proxy-protocol.js';
import type { MemberPlan } from '../plan.js';
import type { PoolRuntime, Waiter } from '../pool-queue.js';
import { Reservations } from '../reservations.js';
import { guardedTimeout, type FaultOwner } from '../fault-guard.js';
import type { ListenerRuntime, WorkerContext } from '../worker-context.js';
import { ENOENT, type NativeRelay } from './relay.js';

const { ECONNREFUSED, ECONNRESET, EMFILE, ENFILE, ENODATA, ETIME, ETIMEDOUT } = constants.errno;

const CONNECT_ERROR_CODE: Record<ConnectErrorReason, ErrorCode> = {
  refused: 'E_CONNECT_REFUSED',
  timeout: 'E_CONNECT_TIMEOUT',
  other: 'E_CONNECT_ERROR',
};

export const enum Phase {
  Admitting = 0,
  /** reading the PROXY header or peeking at the first bytes, on a Node socket */
  Preamble = 1,
  Picking = 2,
  Queued = 3,
  Connecting = 4,
  Relaying = 5,
  Closed = 6,
}

export abstract class NativeAttempt implements Waiter, FaultOwner {
  protected phase = Phase.Admitting;
  protected readonly table: Table;
  protected readonly worker: number;
  protected listener: ListenerRuntime;
  protected listenerSlot: number;
  protected readonly held: Reservations;
  protected pool: PoolRuntime;
  /** the backend connected (or being connected) to; null before and after a failed attempt */
  protected member: MemberPlan | null = null;
  /** backends a retry must avoid */
  protected readonly tried: number[] = [];
  protected attempts = 0;
  protected acceptedAt = 0;
  protected connectStartedAt = 0;
  protected connectedAt = 0;
  /** ms the last successful connect took; -1 when none connected */
  protected connectMs = -1;
  /** ms from the first client byte (or the connect) to the backend's first byte; -1 before it */
  protected firstByteMs = -1;
  /** why it was refused (the rejection metric's reason); null while it is not */
  protected refusal: RejectReason | null = null;
  /** past admission and the preamble: the connection is access-logged */
  protected admitted = false;
  protected queueTimer: NodeJS.Timeout | null = null;
  /** why no backend took the client: the last failed connect or the refusal; null once one connected */
  protected error: ErrorCode | null = null;
  protected readonly ctx: PickContext;
  /** client bytes read before the relay (after a PROXY header, peeked), relayed first */
  protected pending: Buffer | null = null;
  /** the PROXY header for the backend, built once for all attempts */
  protected header: Buffer | null = null;
  /** the addresses a PROXY header carried, passed on by send_proxy; null = the socket's own */
  protected origin: Origin | null = null;
  /** the client as rules, limits and logs see it: the socket's peer, or the PROXY header's source */
  protected peer: ClientAddress;
  protected peerPort = 0;
  protected bytesIn = 0;
  protected bytesOut = 0;
  protected termination: Termination = 'client_close';
  /** the relay's id for the client; -1 while a Node socket holds it (the preamble) and once closed */
  protected id = -1;
  /** the client during its preamble, until the relay takes it */
  protected socket: net.Socket | null = null;
  /** the preamble socket's 'error' and 'close' handlers (none for a client the relay accepted) */
  protected onSocketError: ((err: NodeJS.ErrnoException) => void) | null = null;
  protected onSocketClose: (() => void) | null = null;
  /** false once something outside this object may still call it after its close (a socket, a lookup) */
  protected reusable = true;
  /** ctx.now is the accept's time, good for the first pick (performance.now() costs more than the pick) */
  protected nowIsFresh = false;

  constructor(
    protected readonly w: WorkerContext,
    listener: ListenerRuntime,
    protected readonly relay: NativeRelay,
  ) {
    this.table = w.table;
    this.worker = w.worker;
    this.listener = listener;
    this.listenerSlot = listener.plan.slot;
    this.held = new Reservations(w.table, w.worker);
    this.pool = listener.pool;
    this.peer = clientAddress('');
    this.ctx = { clientAddress: '', avoid: this.tried, now: 0, random: Math.random };
  }

  /** Refuse the connection, counted on the listener under `reason`. */
  protected abstract refuse(reason: RejectReason): void;
  /** Close the client (and a backend being connected to or relayed to): reset, or a plain close. */
  protected abstract closeClient(reset: boolean): void;
  /** The one close path. */
  protected abstract close(): void;
  /** An exception on this connection's path: reset it alone, logged and counted. Never throws. */
  abstract fault(err: unknown, where: string): void;

  protected pick(): void {
    this.phase = Phase.Picking;
    this.admitted = true;
    const pool = this.pool;
    // a new connection takes its place behind those already waiting, in any worker
    if (this.attempts === 0 && pool.plan.queueSize > 0 && pool.queue.othersWaiting) {
      if (!this.enqueue()) this.refuse('max_connections');
      return;
    }
    if (!this.nowIsFresh) this.ctx.now = performance.now();
    this.nowIsFresh = false;
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
    this.queueTimer = guardedTimeout(this, this.queueTimedOut, pool.plan.queueTimeout);
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

  private readonly queueTimedOut = (): void => {
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
    if (isIpLiteral(m.host)) {
      // the relay says when it began the connect (relayConnected)
      this.connectStartedAt = 0;
      this.startConnect(m.host, m.port, this.pool.plan.connectTimeout);
    } else {
      this.connectStartedAt = performance.now();
      this.reusable = false;
      this.resolveThenConnect(m).catch((err: unknown) => this.fault(err, 'lookup'));
    }
  }

  // A backend given by name is looked up as net.connect would (dns.lookup);
  // the connect timeout counts from the start of the lookup.
  private async resolveThenConnect(m: MemberPlan): Promise<void> {
    let address: string;
    try {
      address = (await lookup(m.host)).address;
    } catch {
      if (this.phase === Phase.Connecting && this.member === m) this.connectFailed('other');
      return;
    }
    if (this.phase !== Phase.Connecting || this.member !== m) return;
    const left = this.pool.plan.connectTimeout - (performance.now() - this.connectStartedAt);
    if (left <= 0) this.connectFailed('timeout');
    else this.startConnect(address, m.port, Math.ceil(left));
  }

  private startConnect(host: string, port: number, timeoutMs: number): void {
    const plan = this.pool.plan;
    if (this.header === null && plan.sendProxy !== 'off') this.header = this.proxyHeader(plan.sendProxy);
    const t = this.table;
    const w = this.worker;
    const b = this.held.backend;
    const e = this.relay.connect(
      this.id,
      host,
      port,
      timeoutMs,
      plan.idleTimeout,
      this.header,
      this.pending,
      t.listeners.bytesInIndex(w, this.listenerSlot),
      t.listeners.bytesOutIndex(w, this.listenerSlot),
      t.backendStats.bytesInIndex(w, b),
      t.backendStats.bytesOutIndex(w, b),
    );
    // -ENOENT: the client is gone, and its close event is on its way
    if (e === 0 || e === -ENOENT) return;
    if (e === -EMFILE || e === -ENFILE) return this.outOfFds(e);
    this.connectFailed(e === -ECONNREFUSED ? 'refused' : 'other');
  }

  // The header carries the client as we know it: the PROXY header's addresses
  // when one came in, else the client socket's peer and local address.
  private proxyHeader(version: 'v1' | 'v2'): Buffer {
    const o = this.origin;
    let src = o?.source;
    let dst = o?.destination;
    if (!src || !dst) {
      const a = this.relay.addresses(this.id);
      src = { address: this.ctx.clientAddress, port: this.peerPort };
      dst = { address: a?.[0] ?? '', port: a?.[1] ?? 0 };
    }
    return version === 'v1' ? buildProxyV1(src, dst) : buildProxyV2(src, dst);
  }

  relayConnected(at: number, startedAt: number): void {
    if (this.phase !== Phase.Connecting) return;
    const table = this.table;
    const slot = this.held.backend;
    this.phase = Phase.Relaying;
    if (this.connectStartedAt === 0) this.connectStartedAt = startedAt;
    this.connectedAt = at;
    this.error = null;
    this.pending = null;
    this.header = null;
    this.firstByteMs = -1;
    // a connect says nothing yet about the backend's health: its first byte clears its failures
    const ms = at - this.connectStartedAt;
    this.connectMs = ms;
    table.backendStats.countConnection(this.worker, slot);
    table.backends.updateEwmaConnect(slot, ms);
    table.backendStats.observe(this.worker, slot, Histogram.Connect, ms / 1000);
  }

  relayConnectFailed(errno: number, _at: number, replayable: boolean): void {
    if (this.phase === Phase.Relaying) {
      if (errno === ETIME) return this.firstByteTimedOut(replayable);
      if (errno === ENODATA || errno === ECONNRESET) return this.emptyResponse(errno, replayable);
    }
    if (this.phase !== Phase.Connecting) return;
    this.connectFailed(errno === ECONNREFUSED ? 'refused' : errno === ETIMEDOUT ? 'timeout' : 'other');
  }

  // Timed from the first client byte relayed (or from the connect when the
  // backend speaks first), as the Node relay does (first-bytes.ts).
  relayFirstByte(at: number, firstIn: number): void {
    const slot = this.held.backend;
    if (this.phase !== Phase.Relaying || slot < 0) return;
    const ms = at - (firstIn > 0 ? firstIn : this.connectedAt);
    this.firstByteMs = ms;
    this.table.backends.resetConsecutiveFailures(slot);
    this.table.backends.updateEwmaFirstByte(slot, ms);
    this.table.backendStats.observe(this.worker, slot, Histogram.FirstByte, ms / 1000);
  }

  /**
   * The backend closed (ENODATA: a FIN; ECONNRESET: a reset) before its first
   * byte, and the relay took that for the backend failing (early.c
   * empty_answer): nothing had happened yet (no byte either way, within
   * timeouts.connect of its connect), or the client's bytes are kept for a
   * replay (`replayable`, retry_on empty_response) and it still waits. The relay
   * kept the client and closed the backend. A failed connection (response
   * errors, passive health), taken elsewhere under retry_on connect_failure or
   * with the replay while attempts remain, as the Node relay does
   * (backend-attempt.ts emptyResponse); else the client gets what the backend
   * sent: a FIN or a reset.
   */
  private emptyResponse(errno: number, replayable: boolean): void {
    const slot = this.held.backend;
    this.table.backendStats.countResponseError(this.worker, slot, 'empty');
    this.backendFailed(slot);
    this.error = 'E_EMPTY_RESPONSE';
    if ((replayable || this.pool.plan.retryConnect) && this.retryElsewhere()) return;
    const reset = errno === ECONNRESET;
    this.termination = reset ? 'backend_reset' : 'backend_close';
    if (reset) {
      // counted as the Node relay counts a reset passed on (backend-attempt.ts abortBy)
      this.table.listeners.countReset(this.worker, this.listenerSlot, 'backend');
      this.table.backendStats.countReset(this.worker, slot, 'backend');
    }
    this.closeClient(reset);
    this.close();
  }

  /**
   * Nothing from the backend within timeouts.first_byte of the first client
   * byte relayed to it: the relay reset the backend and kept the client. A
   * failed connection; replayed elsewhere when the client's bytes are kept
   * (`replayable`) and attempts remain, else both sides see a reset, as the
   * Node relay does (backend-attempt.ts firstByteTimedOut).
   */
  private firstByteTimedOut(replayable: boolean): void {
    const slot = this.held.backend;
    this.table.backendStats.countResponseError(this.worker, slot, 'timeout');
    this.backendFailed(slot);
    this.error = 'E_FIRST_BYTE_TIMEOUT';
    if (replayable && this.retryElsewhere()) return;
    // the exchange is cut short: a reset, not a complete empty answer
    this.termination = 'first_byte_timeout';
    this.closeClient(true);
    this.close();
  }

  /** Take the client to another backend after a failed attempt while attempts remain. True when it did. */
  private retryElsewhere(): boolean {
    if (this.attempts > this.pool.plan.retries) return false;
    this.member = null;
    const slot = this.held.releaseBackend();
    this.pool.wake();
    this.tried.push(slot);
    this.table.backendStats.countRetry(this.worker, slot);
    this.pick();
    return true;
  }

  // No descriptor for the backend socket: our limit, not the backend's: no connect error or passive
  // count, no retry (it needs a descriptor too); the worker stops accepting a while (../fd-guard.ts).
  private outOfFds(negErrno: number): void {
    this.member = null;
    this.held.releaseBackend();
    this.pool.wake();
    const err: NodeJS.ErrnoException = new Error(`connect: ${negErrno === -EMFILE ? 'EMFILE' : 'ENFILE'}`);
    err.code = negErrno === -EMFILE ? 'EMFILE' : 'ENFILE';
    this.error = 'E_FD_EXHAUSTED';
    this.w.outOfFds(err);
    this.refuse('fd_exhaustion');
  }

  /** One more failed connection in a row to backend `slot`: at the pool's threshold, passive health hears of it. */
  private backendFailed(slot: number): void {
    const fails = this.table.backends.addConsecutiveFailure(slot);
    const threshold = this.pool.plan.passiveFailures;
    if (threshold > 0 && fails === threshold) {
      this.table.backendStats.countPassiveFailure(this.worker, slot);
      this.w.reportPassive(slot);
    }
  }

  // Retry only before the first byte: after that the client may have acted on a
  // partial response. The relay holds the client meanwhile.
  private connectFailed(reason: ConnectErrorReason): void {
    const table = this.table;
    const worker = this.worker;
    this.member = null;
    const slot = this.held.releaseBackend();
    table.backendStats.countConnectError(worker, slot, reason);
    this.error = CONNECT_ERROR_CODE[reason];
    this.pool.wake();
    this.backendFailed(slot);
    this.tried.push(slot);
    const plan = this.pool.plan;
    if (plan.retryConnect && this.attempts <= plan.retries) {
      table.backendStats.countRetry(worker, slot);
      return this.pick();
    }
    this.refuse('no_backend');
  }
}

/** An IPv4 or IPv6 literal, which the relay connects to without a lookup (net.isIP, remembered per host). */
const literal = new Map<string, boolean>();
function isIpLiteral(host: string): boolean {
  let yes = literal.get(host);
  if (yes === undefined) {
    yes = net.isIP(host) !== 0;
    literal.set(host, yes);
  }
  return yes;
}
