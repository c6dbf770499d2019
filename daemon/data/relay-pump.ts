// The relay of one connection once its backend is connected: bytes both ways
// with backpressure, a FIN passed on as a FIN (half-close), the idle timeout,
// and the per-chunk counters. The hot path of the data plane: no allocation and
// no closure per chunk, only the handlers bound once per connection.
// Connection (connection.ts) extends this class (through first-bytes.ts), so
// the handlers are methods of the one object that owns the connection; the
// state both relays share (bytes, termination) is connection-base.ts's.
import type net from 'node:net';
import type { ClientAddress } from '../net/ip.js';
import { ConnectionBase } from './connection-base.js';
import type { ListenerRuntime, WorkerContext } from './worker-context.js';

export abstract class RelayPump extends ConnectionBase {
  protected backend: net.Socket | null = null;
  /** the backend slot the relay counts bytes on; -1 before the relay */
  protected backendSlot = -1;
  /** the client sent FIN (passed on to the backend once relaying) */
  protected clientEnded = false;
  protected backendEnded = false;
  /**
   * While true, every chunk is shown to clientFirstBytes / backendFirstBytes
   * before it is relayed; the subclass clears it once the first bytes are settled.
   */
  protected early = true;
  /**
   * ms the client side may stay idle (no byte from or to the client), the
   * listener's timeouts.client_idle; 0 = the pool's idle timeout alone
   */
  protected clientIdle = 0;

  constructor(
    w: WorkerContext,
    listener: ListenerRuntime,
    peer: ClientAddress,
    protected readonly client: net.Socket,
  ) {
    super(w, listener, peer);
  }

  /** A client chunk while `early`, before it is counted and relayed. */
  protected abstract clientFirstBytes(chunk: Buffer): void;
  /** A backend chunk while `early`, before it is counted and relayed. */
  protected abstract backendFirstBytes(chunk: Buffer): void;
  /**
   * The backend sent FIN before any byte. Returns true when the subclass took
   * the connection elsewhere (a retry), so the FIN is not passed on.
   */
  protected abstract backendEndedEmpty(): boolean;

  /**
   * Start relaying between the client and `this.backend` (connected) for
   * backend `slot`. `preface` (a PROXY header, client bytes replayed from a
   * failed attempt) goes to the backend first, then `pending` (client bytes
   * read before the relay, relayed as client bytes), then the client's stream.
   * `idleMs` closes the connection after that long without a byte either way;
   * `clientIdle`, when set, bounds the client side's own idle time (as HAProxy's
   * `timeout client` beside `timeout server`): whichever is shorter ends it.
   */
  protected startRelay(slot: number, idleMs: number, preface: Buffer | null, pending: Buffer | null): void {
    this.backendSlot = slot;
    const b = this.backend!;
    const c = this.client;
    // A client read from before the relay (PROXY header, peek, a failed attempt)
    // may have had its FIN emitted while nobody listened: net.Socket emits 'end'
    // even when paused.
    if (c.readableEnded) this.clientEnded = true;
    b.setTimeout(idleMs);
    c.setTimeout(this.clientIdle > 0 ? this.clientIdle : idleMs);
    c.on('timeout', this.onClientTimeout);
    b.on('data', this.onBackendData);
    b.on('end', this.onBackendEnd);
    b.on('drain', this.onBackendDrain);
    c.on('data', this.onClientData);
    c.on('end', this.onClientEnd);
    c.on('drain', this.onClientDrain);
    if (preface !== null) b.write(preface);
    if (pending !== null) this.onClientData(pending);
    if (this.clientEnded) b.end();
    // a full backend buffer after `pending` resumes the client on its 'drain'
    else if (!b.writableNeedDrain) c.resume();
  }

  /**
   * Stop relaying to the current backend (to try another): the client is
   * paused with none of the relay's handlers on it, so its next bytes wait in
   * its socket. The backend socket is the caller's to dispose of.
   */
  protected detachClient(): void {
    const c = this.client;
    c.pause();
    c.setTimeout(0);
    c.removeListener('timeout', this.onClientTimeout);
    c.removeListener('data', this.onClientData);
    c.removeListener('end', this.onClientEnd);
    c.removeListener('drain', this.onClientDrain);
    this.backendEnded = false;
    this.early = true;
  }

  private readonly onClientData = (chunk: Buffer): void => {
    if (this.early) this.clientFirstBytes(chunk);
    const n = chunk.length;
    this.bytesIn += n;
    this.table.backendStats.addBytesIn(this.worker, this.backendSlot, n);
    this.table.listeners.addBytesIn(this.worker, this.listenerSlot, n);
    if (!this.backend!.write(chunk)) this.client.pause();
  };

  private readonly onBackendData = (chunk: Buffer): void => {
    if (this.early) this.backendFirstBytes(chunk);
    const n = chunk.length;
    this.bytesOut += n;
    this.table.backendStats.addBytesOut(this.worker, this.backendSlot, n);
    this.table.listeners.addBytesOut(this.worker, this.listenerSlot, n);
    if (!this.client.write(chunk)) this.backend!.pause();
  };

  private readonly onBackendDrain = (): void => {
    this.client.resume();
  };

  private readonly onClientDrain = (): void => {
    this.backend!.resume();
  };

  // Half-close: a FIN from one side is passed on as a FIN to the other, which may
  // keep sending; the connection ends when both directions have ended.
  private readonly onClientEnd = (): void => {
    this.clientEnded = true;
    this.backend!.end();
  };

  private readonly onBackendEnd = (): void => {
    if (this.bytesOut === 0 && this.backendEndedEmpty()) return;
    this.backendEnded = true;
    if (!this.clientEnded) this.termination = 'backend_close';
    this.client.end();
  };

  private readonly onClientTimeout = (): void => {
    this.idleTimeout(this.clientIdle > 0 ? 'client_idle_timeout' : 'idle_timeout');
  };

  /** No byte either way for the idle timeout: close both sides (the client's 'close' ends the connection). */
  protected idleTimeout(why: 'idle_timeout' | 'client_idle_timeout' = 'idle_timeout'): void {
    this.termination = why;
    this.client.destroy();
    this.backend?.destroy();
  }
}
