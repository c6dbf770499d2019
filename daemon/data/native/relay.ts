// One worker thread's native relay: the addon started on this thread (it runs
// on the thread's own event loop, never beside JavaScript), and the dispatch of
// its events to the connection each one is about. A connection is known here
// by the relay's id from its accept (or adopt) to its EV_CLOSED or to the
// close() JavaScript asks for, whichever comes first; an event for an id no
// longer known is one the close overtook, and is dropped.
import { constants } from 'node:os';
import { log } from '../../log.js';
import type { Table } from '../../state/table.js';
import type { RelayAddon } from './addon.js';

/** relay.h enum relay_event */
const enum RelayEvent {
  Accept = 1,
  Connected = 2,
  ConnectFailed = 3,
  FirstByte = 4,
  Closed = 5,
  ListenError = 6,
  Peek = 7,
  EmptyAnswer = 8,
}

/** Which empty answers fail an attempt rather than pass on as they came (relay.h enum relay_retry; bits). */
export const enum RelayRetry {
  /** a backend that closes or resets before anything happened: retry_on connect_failure, attempts left */
  Silent = 1,
  /** one that does while the client's bytes are kept for a replay: retry_on empty_response, attempts left */
  Replay = 2,
}

/** How a relayed connection ended (relay.h enum relay_end). */
export const enum RelayEnd {
  /** both sides sent FIN, the client first */
  ClientClose = 0,
  /** both sides sent FIN, the backend first */
  BackendClose = 1,
  /** no byte either way for the idle timeout: both sides were closed */
  IdleTimeout = 2,
  /** the client reset: the backend got a reset */
  ClientReset = 3,
  /** the backend reset: the client got a reset */
  BackendReset = 4,
  ClientError = 5,
  BackendError = 6,
  /** no byte from or to the client for the listener's timeouts.client_idle: both sides were closed */
  ClientIdleTimeout = 7,
}

/** What the relay tells one connection; times are ms on performance.now()'s clock. */
export interface RelayedConnection {
  /** The backend accepted at `at` (the connect began at `startedAt`); the relay moves bytes from now on. */
  relayConnected(at: number, startedAt: number): void;
  /**
   * The attempt failed, the client is held, to try elsewhere or close: the
   * connect (ETIMEDOUT: its timeout), an empty answer (ENODATA: a FIN,
   * ECONNRESET: a reset, before the backend's first byte), or no first byte
   * within timeouts.first_byte (ETIME: the backend was reset). `replayable`: the
   * client's bytes are kept and go to the next backend first.
   */
  relayConnectFailed(errno: number, at: number, replayable: boolean): void;
  /**
   * The backend closed (ENODATA: a FIN) or reset (ECONNRESET) before its first
   * byte while that was its failure, and the connect's `retry` allowed no
   * retry for it: the relay passes it on as it came (a FIN as a half-close, a
   * reset as a reset, whose relayClosed follows).
   */
  relayEmptyAnswer(errno: number): void;
  /**
   * The first bytes of the side that spoke first (`fromBackend`), for protocol
   * counting: `more` bytes of the same read follow in the next call (0: the
   * read is complete). `bytes` is the caller's to keep.
   */
  relayPeek(fromBackend: boolean, bytes: Buffer, more: number): void;
  /** The backend's first byte reached the client; `firstIn`: when the client's first byte was relayed, 0 none. */
  relayFirstByte(at: number, firstIn: number): void;
  /** The relay closed both sockets at `at`: the connection's end, its bytes each way, the errno behind an error (or 0). */
  relayClosed(end: RelayEnd, bytesIn: number, bytesOut: number, errno: number, at: number): void;
  /** A handler above threw: the connection is cut (reset) and closed, alone. */
  relayHandlerFailed(err: unknown): void;
}

/** The worker's side of the listeners the relay accepts on. */
export interface RelayListeners {
  /** A client was accepted on listener `key` (as passed to listen()) at `at`. */
  accepted(key: number, id: number, address: string, port: number, at: number): void;
  /** accept(2) failed on listener `key` (EMFILE: the relay stops accepting on it for 100 ms). */
  listenError(key: number, errno: number): void;
}

/** relay.c: SLOT_BITS; an id is below 2^31 */
const SLOT_MASK = (1 << 20) - 1;
/** binding.h EVENT_WIDTH, relay.h RELAY_TEXT_MAX */
const WIDTH = 8;
const TEXT_WIDTH = 48;
const ENOENT = constants.errno.ENOENT;
/** IPv4 addresses whose text is kept (emptied when full) */
const V4_TEXT_MAX = 4096;

export class NativeRelay {
  /** by slot (the id's low 20 bits), with the id that holds the slot */
  private readonly conns: (RelayedConnection | undefined)[] = [];
  private readonly ids: number[] = [];
  private readonly events: Float64Array;
  private readonly text: Buffer;
  private readonly v4Text = new Map<number, string>();

  constructor(
    private readonly addon: RelayAddon,
    table: Table,
    private readonly listeners: RelayListeners,
  ) {
    // the relay's clock is CLOCK_MONOTONIC, as process.hrtime: shifted to performance.now()'s origin
    const origin = Number(process.hrtime.bigint()) / 1e6 - performance.now();
    const [events, text] = addon.init(table.f64, origin, this.onEvents);
    this.events = events;
    this.text = Buffer.from(text.buffer, text.byteOffset, text.byteLength);
  }

  // ---- listeners ----

  /** Listen for listener `key` on host:port, or on the inherited socket `fd`. Returns 0 or -errno. */
  listen(key: number, host: string, port: number, backlog: number, fd: number | undefined): number {
    return this.addon.listen(key, host, port, backlog, fd ?? -1);
  }
  /** Close listener `key`'s socket: the clients that were in its accept queue (the kernel resets them), or -1. */
  unlisten(key: number): number {
    return this.addon.unlisten(key);
  }
  /** The port listener `key` is bound to, or -1. */
  listenPort(key: number): number {
    return this.addon.listenPort(key);
  }

  // ---- connections ----

  /** Events about `id` go to `c` until it closes. */
  register(id: number, c: RelayedConnection): void {
    const slot = id & SLOT_MASK;
    this.conns[slot] = c;
    this.ids[slot] = id;
  }

  /**
   * What `id` needs beyond moving bytes, set before its first connect: the
   * client idle and first-byte timeouts (ms), the replay buffer and the bytes
   * watched for the protocol (bytes); 0 = off. Returns 0 or -errno.
   */
  configure(id: number, clientIdleMs: number, firstByteMs: number, replayBytes: number, watchBytes: number): number {
    return this.addon.configure(id, clientIdleMs, firstByteMs, replayBytes, watchBytes);
  }

  /** Take a duplicate of a client socket's fd (the caller destroys its own socket). The id, or -errno. */
  adopt(fd: number): number {
    return this.addon.adopt(fd);
  }

  /**
   * Connect `id` to host:port (an IP literal) and relay once connected:
   * `preface` first (a PROXY header), then `pending` (client bytes read
   * before, counted as relayed), then the client's stream. Then four table
   * indices (Table.f64) its bytes are added to, and `retry` (RelayRetry bits):
   * the empty answers that fail this attempt. Returns 0, -ENOENT when the client
   * is already gone (its close event follows), or another -errno (nothing
   * started).
   */
  connect(
    id: number,
    host: string,
    port: number,
    connectMs: number,
    idleMs: number,
    preface: Buffer | null,
    pending: Buffer | null,
    listenerIn: number,
    listenerOut: number,
    backendIn: number,
    backendOut: number,
    retry: number,
  ): number {
    return this.addon.connect(
      id,
      host,
      port,
      connectMs,
      idleMs,
      preface,
      pending,
      listenerIn,
      listenerOut,
      backendIn,
      backendOut,
      retry,
    );
  }

  /** Close `id` now (reset: RST to both sides) and forget it. Its [bytes in, bytes out], or null when unknown. */
  close(id: number, reset: boolean): [number, number] | null {
    this.forget(id);
    return this.addon.close(id, reset) === 0 ? this.addon.closedBytes() : null;
  }

  /** The client socket's [local address, local port, peer address, peer port], or null when it is gone. */
  addresses(id: number): [string, number, string, number] | null {
    return this.addon.addresses(id);
  }

  /** See RelayAddon.waitInPlace (daemon/data/native/wait.c): 0 or -errno. */
  waitInPlace(on: boolean): number {
    return this.addon.waitInPlace(on);
  }

  /** See RelayAddon.fdCeiling: accepting stops short of descriptor number `n`. */
  fdCeiling(n: number): void {
    this.addon.fdCeiling(n);
  }

  /** Connections the relay holds. */
  get open(): number {
    return this.addon.stats()[0];
  }

  private forget(id: number): void {
    const slot = id & SLOT_MASK;
    if (this.ids[slot] === id) {
      this.conns[slot] = undefined;
      this.ids[slot] = -1;
    }
  }

  /** "a.b.c.d" of an IPv4 address given as a number, kept for the next client from it */
  private ipv4(n: number): string {
    let text = this.v4Text.get(n);
    if (text === undefined) {
      text = `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
      if (this.v4Text.size >= V4_TEXT_MAX) this.v4Text.clear();
      this.v4Text.set(n, text);
    }
    return text;
  }

  private find(id: number): RelayedConnection | undefined {
    const slot = id & SLOT_MASK;
    return this.ids[slot] === id ? this.conns[slot] : undefined;
  }

  // One call per batch (binding.c): each event is handled alone, so a handler
  // that throws cuts its own connection and no other.
  private readonly onEvents = (count: number): void => {
    const ev = this.events;
    for (let i = 0; i < count; i++) {
      const o = i * WIDTH;
      const type = ev[o]!;
      const id = ev[o + 1]!;
      if (type === RelayEvent.Accept) {
        const v4 = ev[o + 4]!;
        const address =
          v4 >= 0 ? this.ipv4(v4) : this.text.toString('latin1', i * TEXT_WIDTH, i * TEXT_WIDTH + ev[o + 6]!);
        try {
          this.listeners.accepted(ev[o + 2]!, id, address, ev[o + 3]!, ev[o + 7]!);
        } catch (err) {
          const c = this.find(id);
          if (c !== undefined) c.relayHandlerFailed(err);
          else {
            log.error('accepted connection failed', { err });
            this.addon.close(id, true);
          }
        }
        continue;
      }
      if (type === RelayEvent.ListenError) {
        this.listeners.listenError(id, ev[o + 2]!);
        continue;
      }
      const c = this.find(id);
      if (c === undefined) continue;
      try {
        if (type === RelayEvent.Connected) c.relayConnected(ev[o + 2]!, ev[o + 3]!);
        else if (type === RelayEvent.ConnectFailed) c.relayConnectFailed(ev[o + 2]!, ev[o + 3]!, ev[o + 4]! === 1);
        else if (type === RelayEvent.EmptyAnswer) c.relayEmptyAnswer(ev[o + 2]!);
        else if (type === RelayEvent.Peek) {
          const at = i * TEXT_WIDTH;
          c.relayPeek(ev[o + 2]! === 1, Buffer.from(this.text.subarray(at, at + ev[o + 6]!)), ev[o + 3]!);
        } else if (type === RelayEvent.FirstByte) c.relayFirstByte(ev[o + 2]!, ev[o + 3]!);
        else if (type === RelayEvent.Closed) {
          this.forget(id);
          c.relayClosed(ev[o + 2]! as RelayEnd, ev[o + 3]!, ev[o + 4]!, ev[o + 5]!, ev[o + 7]!);
        }
      } catch (err) {
        c.relayHandlerFailed(err);
      }
    }
  };
}

export { ENOENT };
