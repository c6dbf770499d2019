// One client connection whose sockets the native relay holds (relay.ts), from
// its accept (or from the end of its preamble, read on a Node socket) to its
// close. The same life as Connection (../connection.ts): admission, the
// preamble, pick, queue, connect with a timeout, retry on another backend
// while no byte has been relayed, PROXY header out, and one close path that
// gives back everything the connection took and writes the access line. The
// relay moves the bytes, keeps the idle and connect timeouts, passes FINs and
// resets on, counts the bytes in the table, and reports the connect, the
// backend's first byte and the end as events.
//
// File descriptors: a client accepted by the relay is never a Node socket. A
// client read first on a Node socket (PROXY header, peek) is handed over once
// read: the relay takes a duplicate of its descriptor (adopt), the Node socket
// is destroyed (closing only its own descriptor, after libuv has removed it
// from its epoll set), and from then on only the relay touches the socket.
import net from 'node:net';
import { lookup } from 'node:dns/promises';
import { constants } from 'node:os';
import { Histogram, type ConnectErrorReason, type RejectReason } from '../../state/names.js';
import type { Table } from '../../state/table.js';
import { log } from '../../log.js';
import type { ErrorCode } from '../../errors.js';
import { clientAddress, type ClientAddress } from '../../net/ip.js';
import type { PickContext } from '../balance/interface.js';
import { admitPeer, admitSource } from '../admission.js';
import { writeAccessLog, type Termination } from '../access-log.js';
import { readPreamble, type Origin, type Preamble } from '../edge/preamble.js';
import { buildProxyV1, buildProxyV2 } from '../edge/proxy-protocol.js';
import type { MemberPlan } from '../plan.js';
import type { PoolRuntime, Waiter } from '../pool-queue.js';
import { Reservations } from '../reservations.js';
import type { ListenerRuntime, OpenConnection, WorkerContext } from '../worker-context.js';
import { ENOENT, RelayEnd, type NativeRelay, type RelayedConnection } from './relay.js';

const { ECONNREFUSED, ETIMEDOUT } = constants.errno;

const CONNECT_ERROR_CODE: Record<ConnectErrorReason, ErrorCode> = {
  refused: 'E_CONNECT_REFUSED',
  timeout: 'E_CONNECT_TIMEOUT',
  other: 'E_CONNECT_ERROR',
};

/** index = RelayEnd */
const TERMINATION: readonly Termination[] = [
  'client_close',
  'backend_close',
  'idle_timeout',
  'client_error',
  'backend_error',
  'client_error',
  'backend_error',
];

const enum Phase {
  Admitting = 0,
  /** reading the PROXY header or peeking at the first bytes, on a Node socket */
  Preamble = 1,
  Picking = 2,
  Queued = 3,
  Connecting = 4,
  Relaying = 5,
  Closed = 6,
}

/** A client accepted by the relay: its id, its address, when (ms, performance.now()'s clock). */
export interface AcceptedClient {
  id: number;
  address: string;
  port: number;
  at: number;
}

// an 'error' on a Node socket being handed over must not throw
function ignore(): void {}

/**
 * Closed connections kept for the next accept (per worker thread): a
 * connection is a few objects whose allocation and collection would cost
 * more than the rest of its JavaScript. Only a client the relay accepted and
 * that never waited on a lookup is kept: nothing can reach it once closed.
 */
const spare: NativeConnection[] = [];
const SPARE_MAX = 1024;

export class NativeConnection implements OpenConnection, Waiter, RelayedConnection {
  private phase = Phase.Admitting;
  private readonly table: Table;
  private readonly worker: number;
  private listener: ListenerRuntime;
  private listenerSlot: number;
  private readonly held: Reservations;
  private pool: PoolRuntime;
  /** the backend connected (or being connected) to; null before and after a failed attempt */
  private member: MemberPlan | null = null;
  /** backends a retry must avoid */
  private readonly tried: number[] = [];
  private attempts = 0;
  private acceptedAt = 0;
  private connectStartedAt = 0;
  private connectedAt = 0;
  /** past admission and the preamble: the connection is access-logged */
  private admitted = false;
  private queueTimer: NodeJS.Timeout | null = null;
  /** why no backend took the client: the last failed connect or the refusal; null once one connected */
  private error: ErrorCode | null = null;
  private readonly ctx: PickContext;
  /** client bytes read before the relay (after a PROXY header, peeked), relayed first */
  private pending: Buffer | null = null;
  /** the PROXY header for the backend, built once for all attempts */
  private header: Buffer | null = null;
  /** the addresses a PROXY header carried, passed on by send_proxy; null = the socket's own */
  private origin: Origin | null = null;
  /** the client as rules, limits and logs see it: the socket's peer, or the PROXY header's source */
  private peer: ClientAddress;
  private peerPort = 0;
  private bytesIn = 0;
  private bytesOut = 0;
  private termination: Termination = 'client_close';
  /** the relay's id for the client; -1 while a Node socket holds it (the preamble) and once closed */
  private id = -1;
  /** the client during its preamble, until the relay takes it */
  private socket: net.Socket | null = null;
  /** the preamble socket's 'error' and 'close' handlers (none for a client the relay accepted) */
  private onSocketError: (() => void) | null = null;
  private onSocketClose: (() => void) | null = null;
  /** false once something outside this object may still call it after its close (a socket, a lookup) */
  private reusable = true;
  /** ctx.now is the accept's time, good for the first pick (performance.now() costs more than the pick) */
  private nowIsFresh = false;

  /** A connection for a client accepted by the relay: a spare one when there is one. */
  static accepted(w: WorkerContext, listener: ListenerRuntime, relay: NativeRelay, client: AcceptedClient): NativeConnection {
    const c = spare.pop();
    if (c === undefined || c.w !== w || c.relay !== relay) return new NativeConnection(w, listener, relay, client);
    c.reset(listener, client.at);
    c.takeAccepted(client);
    return c;
  }

  constructor(
    private readonly w: WorkerContext,
    listener: ListenerRuntime,
    private readonly relay: NativeRelay,
    client: AcceptedClient | net.Socket,
  ) {
    this.table = w.table;
    this.worker = w.worker;
    this.listener = listener;
    this.listenerSlot = listener.plan.slot;
    this.held = new Reservations(w.table, w.worker);
    this.pool = listener.pool;
    this.peer = clientAddress('');
    this.ctx = { clientAddress: '', avoid: this.tried, now: 0, random: Math.random };
    if (client instanceof net.Socket) {
      this.reusable = false;
      this.acceptedAt = performance.now();
      this.socket = client;
      this.peer = clientAddress(client.remoteAddress);
      this.ctx.clientAddress = this.peer.text;
      this.peerPort = client.remotePort ?? 0;
      this.onSocketError = (): void => {
        if (this.phase !== Phase.Closed) this.termination = 'client_error';
      };
      this.onSocketClose = (): void => this.close();
      client.on('error', this.onSocketError);
      client.on('close', this.onSocketClose);
    } else {
      this.acceptedAt = client.at;
      this.takeAccepted(client);
    }
  }

  private takeAccepted(client: AcceptedClient): void {
    this.id = client.id;
    this.peer = clientAddress(client.address);
    this.ctx.clientAddress = this.peer.text;
    this.ctx.now = client.at;
    this.nowIsFresh = true;
    this.peerPort = client.port;
    this.relay.register(client.id, this);
  }

  /** Everything back to a fresh connection's values, for a spare one taken again. */
  private reset(listener: ListenerRuntime, at: number): void {
    this.phase = Phase.Admitting;
    this.listener = listener;
    this.listenerSlot = listener.plan.slot;
    this.pool = listener.pool;
    this.member = null;
    this.tried.length = 0;
    this.attempts = 0;
    this.acceptedAt = at;
    this.connectStartedAt = 0;
    this.connectedAt = 0;
    this.admitted = false;
    this.error = null;
    this.pending = null;
    this.header = null;
    this.origin = null;
    this.bytesIn = 0;
    this.bytesOut = 0;
    this.termination = 'client_close';
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
    if (this.socket === null) return this.pick();
    if (edge === null || !edge.preamble) {
      if (this.handOver()) this.pick();
      return;
    }
    this.phase = Phase.Preamble;
    void readPreamble(edge, this.socket, this.peer).then((p) => this.preambleRead(p));
  }

  /** Immediate stop: both sides get a reset now. */
  abort(): void {
    if (this.phase === Phase.Closed) return;
    this.termination = 'shutdown';
    this.closeClient(true);
    this.close();
  }

  private preambleRead(p: Preamble): void {
    // the client went away meanwhile (closed by onSocketClose), or an immediate stop cut it
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
      this.closeClient(false);
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
    if (this.handOver()) this.pick();
  }

  /**
   * Give the client's socket to the relay: what the Node socket read and did
   * not hand out yet joins `pending`, the relay takes a duplicate of the
   * descriptor, the Node socket is destroyed. False (closed) when the relay
   * cannot take it.
   */
  private handOver(): boolean {
    const s = this.socket!;
    let chunk: unknown;
    while ((chunk = s.read()) !== null) {
      const b = chunk as Buffer;
      this.pending = this.pending === null ? b : Buffer.concat([this.pending, b]);
    }
    const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
    const id = fd >= 0 ? this.relay.adopt(fd) : -constants.errno.EBADF;
    s.removeListener('error', this.onSocketError!);
    s.removeListener('close', this.onSocketClose!);
    s.on('error', ignore);
    s.destroy();
    this.socket = null;
    if (id < 0) {
      log.warn('the native relay could not take a client', { listener: this.listener.plan.name, errno: -id });
      this.termination = 'rejected';
      this.error = 'E_RELAY';
      this.close();
      return false;
    }
    this.id = id;
    this.relay.register(id, this);
    return true;
  }

  // ---- pick, queue, connect, retry ----

  private pick(): void {
    this.phase = Phase.Picking;
    this.admitted = true;
    const pool = this.pool;
    if (!this.nowIsFresh) this.ctx.now = performance.now();
    this.nowIsFresh = false;
    const slot = pool.picker.acquire(this.worker, this.ctx);
    if (slot >= 0) {
      this.held.tookBackend(slot);
      return this.connect(slot);
    }
    const full = pool.picker.lastFailure === 'full';
    if (full && pool.queueOpen) return this.enqueue();
    this.refuse(full ? 'max_connections' : 'no_backend');
  }

  private enqueue(): void {
    this.phase = Phase.Queued;
    this.held.enterQueue(this.pool, this);
    this.queueTimer = setTimeout(() => this.queueTimedOut(), this.pool.plan.queueTimeout);
    this.w.queues.watch(this.pool);
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

  private queueTimedOut(): void {
    this.queueTimer = null;
    if (this.phase !== Phase.Queued) return;
    this.leaveQueue();
    this.refuse('queue_timeout');
  }

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
      void this.resolveThenConnect(m);
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
    const ms = at - this.connectStartedAt;
    table.backends.resetConsecutiveFailures(slot);
    table.backendStats.countConnection(this.worker, slot);
    table.backends.updateEwmaConnect(slot, ms);
    table.backendStats.observe(this.worker, slot, Histogram.Connect, ms / 1000);
  }

  relayConnectFailed(errno: number): void {
    if (this.phase !== Phase.Connecting) return;
    this.connectFailed(errno === ECONNREFUSED ? 'refused' : errno === ETIMEDOUT ? 'timeout' : 'other');
  }

  relayFirstByte(at: number): void {
    const slot = this.held.backend;
    if (this.phase !== Phase.Relaying || slot < 0) return;
    const ms = at - this.connectStartedAt;
    this.table.backends.updateEwmaFirstByte(slot, ms);
    this.table.backendStats.observe(this.worker, slot, Histogram.FirstByte, ms / 1000);
  }

  relayClosed(end: RelayEnd, bytesIn: number, bytesOut: number, _errno: number, at: number): void {
    this.id = -1;
    this.bytesIn = bytesIn;
    this.bytesOut = bytesOut;
    this.termination = TERMINATION[end] ?? 'client_error';
    this.close(at);
  }

  relayHandlerFailed(err: unknown): void {
    log.error('connection failed', { listener: this.listener.plan.name, client: this.ctx.clientAddress, err });
    this.error = 'E_INTERNAL';
    this.abort();
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
    const fails = table.backends.addConsecutiveFailure(slot);
    const threshold = this.pool.plan.passiveFailures;
    if (threshold > 0 && fails === threshold) {
      table.backendStats.countPassiveFailure(worker, slot);
      this.w.reportPassive(slot);
    }
    this.tried.push(slot);
    if (this.attempts <= this.pool.plan.retries) {
      table.backendStats.countRetry(worker, slot);
      return this.pick();
    }
    this.refuse('no_backend');
  }

  // ---- the end ----


  /** Close the client (and a backend being connected to or relayed to): reset, or a plain close. */
  private closeClient(reset: boolean): void {
    if (this.socket !== null) {
      if (reset) this.socket.resetAndDestroy();
      else this.socket.destroy();
      return;
    }
    if (this.id < 0) return;
    const bytes = this.relay.close(this.id, reset);
    this.id = -1;
    if (bytes !== null) [this.bytesIn, this.bytesOut] = bytes;
  }

  /** Refuse the connection, counted on the listener under `reason`. */
  private refuse(reason: RejectReason): void {
    this.termination =
      reason === 'queue_timeout' ? 'queue_timeout' : reason === 'no_backend' ? 'no_backend' : 'rejected';
    if (reason === 'queue_timeout') this.error = 'E_QUEUE_TIMEOUT';
    else this.error ??= 'E_NO_BACKEND';
    this.table.listeners.countRejected(this.worker, this.listenerSlot, reason);
    this.closeClient(false);
    this.close();
  }

  /**
   * The one close path: give back what is held, once, and write the access
   * line. `at`: when the relay closed it (else now). A connection nothing
   * else can reach is kept as a spare.
   */
  private close(at = -1): void {
    const phase = this.phase;
    if (phase === Phase.Closed) return;
    this.phase = Phase.Closed;
    this.closeClient(false);
    if (this.queueTimer !== null) clearTimeout(this.queueTimer);
    this.queueTimer = null;
    const now = at >= 0 ? at : performance.now();
    if (phase === Phase.Relaying) {
      this.table.backendStats.observe(
        this.worker,
        this.held.backend,
        Histogram.Duration,
        (now - this.connectedAt) / 1000,
      );
    }
    if (this.held.releaseAll() >= 0) this.pool.wake();
    this.w.closed(this);
    if (this.admitted && this.w.accessLog) {
      writeAccessLog({
        client: this.ctx.clientAddress,
        listener: this.listener.plan.name,
        pool: this.pool.plan.name,
        backend: this.member?.key ?? null,
        bytesIn: this.bytesIn,
        bytesOut: this.bytesOut,
        connectMs: this.connectedAt ? this.connectedAt - this.connectStartedAt : -1,
        durationMs: now - this.acceptedAt,
        termination: this.termination,
        error: this.error,
        attempts: this.attempts,
        worker: this.worker,
      });
    }
    if (this.reusable && spare.length < SPARE_MAX) {
      this.member = null;
      this.pending = null;
      this.header = null;
      this.origin = null;
      spare.push(this);
    }
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
