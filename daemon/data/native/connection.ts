// One client connection whose sockets the native relay holds (relay.ts), from
// its accept (or from the end of its preamble, read on a Node socket) to its
// close. The same life as Connection (../connection.ts): admission, the
// preamble, the attempts at a backend (attempt.ts: pick, queue, connect,
// retries, PROXY header out), and one close path that gives back everything
// the connection took and writes the access line. The
// relay moves the bytes, keeps the connect, idle, client idle and first-byte
// timeouts and the replay copy (configured once, relayFeatures), passes FINs
// and resets on, counts the bytes in the table, and reports the connect, the
// backend's first byte, the first bytes of the side that speaks first (for
// protocol counting, by ../edge/protocol-watch.ts) and the end as events. An exception on its path (a
// relay event's handler, its timer, its lookup, its preamble) resets it alone,
// counted as on the Node relay (../fault-guard.ts).
//
// File descriptors: a client accepted by the relay is never a Node socket. A
// client read first on a Node socket (PROXY header, peek) is handed over once
// read: the relay takes a duplicate of its descriptor (adopt), the Node socket
// is destroyed (closing only its own descriptor, after libuv has removed it
// from its epoll set), and from then on only the relay touches the socket.
import net from 'node:net';
import { constants } from 'node:os';
import type { Protocol, ResetSide } from '../../state/names.js';
import { log } from '../../log.js';
import { clientAddress } from '../../net/ip.js';
import type { Termination } from '../access-log.js';
import { isReset } from '../backend-attempt.js';
import { Phase } from '../connection-base.js';
import { guardSocket, resetSocket } from '../fault-guard.js';
import { readPreamble, type Preamble } from '../edge/preamble.js';
import { ProtocolWatch } from '../edge/protocol-watch.js';
import type { ListenerRuntime, WorkerContext } from '../worker-context.js';
import { NativeAttempt } from './attempt.js';
import { RelayEnd, type NativeRelay, type RelayedConnection } from './relay.js';

/** index = RelayEnd */
const TERMINATION: readonly Termination[] = [
  'client_close',
  'backend_close',
  'idle_timeout',
  'client_reset',
  'backend_reset',
  'client_error',
  'backend_error',
  'client_idle_timeout',
];

/** index = RelayEnd: the side whose reset (or socket failure) ended the connection, null for a FIN or a timeout */
const RESET_BY: readonly (ResetSide | null)[] = [null, null, null, 'client', 'backend', 'client', 'backend', null];

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

export class NativeConnection extends NativeAttempt implements RelayedConnection {
  /** test hook: what the relay's connect event throws (throwOnRelayEvent); null: nothing */
  private eventFault: (() => never) | null = null;
  /** reads the protocol from the first bytes (a listener that counts protocols without routes); null once known */
  private watch: ProtocolWatch | null = null;
  /** the pieces of one read handed over by the relay so far (relayPeek), until the read is complete */
  private peekPart: Buffer | null = null;

  /** A connection for a client accepted by the relay: a spare one when there is one. */
  static accepted(
    w: WorkerContext,
    listener: ListenerRuntime,
    relay: NativeRelay,
    client: AcceptedClient,
  ): NativeConnection {
    const c = spare.pop();
    if (c === undefined || c.w !== w || c.relay !== relay) return new NativeConnection(w, listener, relay, client);
    c.reset(listener, client.at);
    c.takeAccepted(client);
    return c;
  }

  constructor(w: WorkerContext, listener: ListenerRuntime, relay: NativeRelay, client: AcceptedClient | net.Socket) {
    super(w, listener, relay);
    if (client instanceof net.Socket) {
      this.reusable = false;
      this.acceptedAt = performance.now();
      this.socket = client;
      this.peer = clientAddress(client.remoteAddress);
      this.ctx.clientAddress = this.peer.text;
      this.peerPort = client.remotePort ?? 0;
      // a reset (or a failure) while the preamble is read: counted by side, as the Node relay does (abortBy)
      this.onSocketError = (err: NodeJS.ErrnoException): void => {
        if (this.phase === Phase.Closed || this.termination === 'client_reset') return;
        this.termination = isReset(err) ? 'client_reset' : 'client_error';
        this.table.listeners.countReset(this.worker, this.listenerSlot, 'client');
      };
      this.onSocketClose = (): void => this.close();
      guardSocket(client, this);
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
    this.connectMs = -1;
    this.firstByteMs = -1;
    this.refusal = null;
    this.admitted = false;
    this.error = null;
    this.pending = null;
    this.header = null;
    this.origin = null;
    this.bytesIn = 0;
    this.bytesOut = 0;
    this.termination = 'client_close';
    this.watch = null;
    this.peekPart = null;
  }

  /** Admit the connection and start serving it, or refuse it (counted by reason). */
  open(): void {
    if (!this.admit()) return;
    if (this.socket === null) return this.pick();
    const edge = this.listener.edge;
    if (edge === null || !edge.preamble) {
      if (this.handOver()) this.pick();
      return;
    }
    this.phase = Phase.Preamble;
    readPreamble(edge, this.socket, this.peer)
      .then((p) => this.preambleRead(p))
      .catch((err: unknown) => this.fault(err, 'preamble'));
  }

  /** Pick a backend; the first time (admitted), the relay is told what the connection needs beyond moving bytes. */
  protected override pick(): void {
    if (!this.admitted) this.relayFeatures();
    super.pick();
  }

  /**
   * The listener's client idle timeout, the pool's first-byte timeout and
   * replay buffer (retry_on empty_response), and protocol counting on a
   * listener that counts protocols without routes: the relay keeps them, as
   * ../first-bytes.ts and ../relay-pump.ts do on Node sockets. Nothing to tell
   * it for a connection that uses none.
   */
  private relayFeatures(): void {
    const edge = this.listener.edge;
    const watchBytes = edge !== null && edge.watchesProtocol ? edge.inspectBytes : 0;
    if (watchBytes > 0) this.watch = new ProtocolWatch(watchBytes);
    const clientIdle = this.listener.plan.clientIdle;
    const { firstByteTimeout, replayBytes } = this.pool.plan;
    if (clientIdle > 0 || firstByteTimeout > 0 || replayBytes > 0 || watchBytes > 0) {
      // -ENOENT: the client is gone, and its close event is on its way
      this.relay.configure(this.id, clientIdle, firstByteTimeout, replayBytes, watchBytes);
    }
  }

  relayPeek(fromBackend: boolean, bytes: Buffer, more: number): void {
    const w = this.watch;
    if (w === null) return;
    // a read is classified whole, as the Node relay sees it in one chunk
    const read = this.peekPart === null ? bytes : Buffer.concat([this.peekPart, bytes]);
    if (more > 0) {
      this.peekPart = read;
      return;
    }
    this.peekPart = null;
    const p = fromBackend ? w.server(read) : w.client(read);
    if (p !== null) this.protocolSeen(p);
  }

  /** The protocol is known: counted once. */
  private protocolSeen(p: Protocol): void {
    this.watch = null;
    this.table.listeners.countProtocol(this.worker, this.listenerSlot, p);
  }

  override fault(err: unknown, where: string): void {
    // its state may be anything: never taken again as a spare
    this.reusable = false;
    super.fault(err, where);
  }

  /** Test hook (fault-injection.ts): the relay's connect event throws `thrower`'s error in its handler. */
  throwOnRelayEvent(thrower: () => never): void {
    this.reusable = false;
    this.eventFault = thrower;
  }

  override relayConnected(at: number, startedAt: number): void {
    if (this.eventFault !== null) this.eventFault();
    super.relayConnected(at, startedAt);
  }

  private preambleRead(p: Preamble): void {
    if (this.preambleTaken(p) && this.handOver()) this.pick();
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

  relayClosed(end: RelayEnd, bytesIn: number, bytesOut: number, _errno: number, at: number): void {
    this.id = -1;
    this.bytesIn = bytesIn;
    this.bytesOut = bytesOut;
    this.termination = TERMINATION[end] ?? 'client_error';
    const side = RESET_BY[end] ?? null;
    if (side !== null) {
      // the relay passed it on as a reset; counted as the Node relay counts it (backend-attempt.ts abortBy)
      this.table.listeners.countReset(this.worker, this.listenerSlot, side);
      if (this.phase === Phase.Relaying) this.table.backendStats.countReset(this.worker, this.held.backend, side);
    } else if (end === RelayEnd.ClientClose && bytesOut === 0 && this.phase === Phase.Relaying) {
      // a FIN that answers the client's: the backend is alive (backend-attempt.ts emptyResponse)
      this.table.backends.resetConsecutiveFailures(this.held.backend);
    }
    this.close(at);
  }

  relayHandlerFailed(err: unknown): void {
    this.fault(err, 'relay event');
  }

  // ---- the end ----

  /** Close the client (and a backend being connected to or relayed to): reset, or a plain close. */
  protected closeClient(reset: boolean): void {
    if (this.socket !== null) {
      if (reset) resetSocket(this.socket);
      else this.socket.destroy();
      return;
    }
    if (this.id < 0) return;
    const bytes = this.relay.close(this.id, reset);
    this.id = -1;
    if (bytes !== null) [this.bytesIn, this.bytesOut] = bytes;
  }

  protected resetClient(): void {
    // a reset, never a clean FIN that would pass for a served empty answer
    this.closeClient(true);
  }

  protected resetBoth(): void {
    try {
      this.closeClient(true);
    } catch {
      // the relay holds it still; it is given back when the relay closes it or at the worker's exit
    }
  }

  /**
   * The one close path: give back what is held, once, and write the access
   * line. `at`: when the relay closed it (else now). A connection nothing
   * else can reach is kept as a spare.
   */
  protected close(at = -1): void {
    const phase = this.phase;
    if (phase === Phase.Closed) return;
    this.phase = Phase.Closed;
    this.closeClient(false);
    // the protocol as it stands if no bytes decided it (unknown: none came), as the Node relay counts it
    if (this.admitted && this.watch !== null) this.protocolSeen(this.watch.final());
    this.closed(phase, at >= 0 ? at : performance.now());
    if (this.reusable && spare.length < SPARE_MAX) {
      this.member = null;
      this.pending = null;
      this.header = null;
      this.origin = null;
      spare.push(this);
    }
  }
}
