// The relay of one connection once its backend is connected: bytes both ways
// with backpressure, a FIN passed on as a FIN (half-close), the idle timeout,
// and the per-chunk counters. The hot path of the data plane: no allocation and
// no closure per chunk, only the handlers bound once per connection.
// Connection (connection.ts) extends this class, so the handlers are methods of
// the one object that owns the connection.
import type net from 'node:net';
import { Histogram } from '../state/names.js';
import type { Table } from '../state/table.js';
import type { Termination } from './access-log.js';

export abstract class RelayPump {
  protected backend: net.Socket | null = null;
  /** the backend slot the relay counts bytes on; -1 before the relay */
  protected backendSlot = -1;
  protected bytesIn = 0;
  protected bytesOut = 0;
  protected clientEnded = false;
  protected backendEnded = false;
  protected termination: Termination = 'client_close';
  /**
   * ms the client side may stay idle (no byte from or to the client), the
   * listener's timeouts.client_idle; 0 = the pool's idle timeout alone
   */
  protected clientIdle = 0;
  private firstByteSeen = false;
  /** performance.now() when the connect began: first-byte latency counts from it */
  private since = 0;

  constructor(
    protected readonly table: Table,
    protected readonly worker: number,
    readonly listenerSlot: number,
    protected readonly client: net.Socket,
  ) {}

  /**
   * Start relaying between the client and `this.backend` (connected) for
   * backend `slot`. `header` (a PROXY header) goes to the backend first, then
   * `pending` (client bytes read before the relay), then the client's stream.
   * `idleMs` closes the connection after that long without a byte either way;
   * `clientIdle`, when set, bounds the client side's own idle time (as HAProxy's
   * `timeout client` beside `timeout server`): whichever is shorter ends it.
   */
  protected startRelay(
    slot: number,
    idleMs: number,
    since: number,
    header: Buffer | null,
    pending: Buffer | null,
  ): void {
    this.backendSlot = slot;
    this.since = since;
    const b = this.backend!;
    const c = this.client;
    // A client read from before the relay (PROXY header, peek) may have had its
    // FIN emitted while nobody listened: net.Socket emits 'end' even when paused.
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
    if (header !== null) b.write(header);
    if (pending !== null) this.onClientData(pending);
    if (this.clientEnded) b.end();
    else c.resume();
  }

  private readonly onClientData = (chunk: Buffer): void => {
    const n = chunk.length;
    this.bytesIn += n;
    this.table.backendStats.addBytesIn(this.worker, this.backendSlot, n);
    this.table.listeners.addBytesIn(this.worker, this.listenerSlot, n);
    if (!this.backend!.write(chunk)) this.client.pause();
  };

  private readonly onBackendData = (chunk: Buffer): void => {
    if (!this.firstByteSeen) {
      this.firstByteSeen = true;
      const ms = performance.now() - this.since;
      this.table.backends.updateEwmaFirstByte(this.backendSlot, ms);
      this.table.backendStats.observe(this.worker, this.backendSlot, Histogram.FirstByte, ms / 1000);
    }
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
