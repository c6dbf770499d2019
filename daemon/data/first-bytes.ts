// What a connection watches until the first bytes are settled, between the
// relay's chunks (relay-pump.ts) and the connection's decisions (connection.ts):
// - the backend's first byte, timed from the first client byte relayed to it
//   (or from the connect, when the backend speaks first), as nginx's
//   $upstream_first_byte_time is kept apart from $upstream_connect_time: a
//   client that waits before it sends does not make its backend look slow;
// - the first-byte timeout (timeouts.first_byte), armed by that first client
//   byte, ended by the backend's first byte or its FIN (answeredWithFin);
// - the copy of the client's bytes an `empty_response` retry replays elsewhere
//   (HAProxy's retry-on empty-response), bounded by retry_buffer;
// - on a listener that counts protocols without routes, the protocol, from the
//   first bytes either side sends (protocol-watch.ts).
// Once the backend has answered and the protocol is known, `early` goes false
// and the relay's chunks pass straight through.
import { Histogram } from '../state/names.js';
import type { Protocol } from '../state/names.js';
import type { ProtocolWatch } from './edge/protocol-watch.js';
import { guardedTimeout } from './fault-guard.js';
import { RelayPump } from './relay-pump.js';

export abstract class FirstBytes extends RelayPump {
  /** the client's bytes so far, kept for a replay; null when replay is off or they outgrew the buffer */
  protected replay: Buffer[] | null = null;
  /** bytes in `replay` */
  private replayed = 0;
  /** retry_buffer: bytes `replay` may hold */
  private replayLimit = 0;
  /** performance.now() of the first client byte relayed to the current backend; 0 before */
  private clientFirstAt = 0;
  /** timeouts.first_byte, ms; 0 = off */
  private firstByteLimit = 0;
  private firstByteTimer: NodeJS.Timeout | null = null;
  /** reads the protocol from the first bytes; null when the listener does not, or once it is known */
  protected watch: ProtocolWatch | null = null;

  /** Nothing from the backend within timeouts.first_byte of the first client byte relayed to it. */
  protected abstract firstByteTimedOut(): void;
  /** The protocol is known (from the watch): count it once. */
  protected abstract protocolSeen(p: Protocol): void;

  /** Keep up to `bytes` of the client's data for a replay (0 = no replay). Once per connection. */
  protected keepForReplay(bytes: number): void {
    if (bytes > 0) {
      this.replay = [];
      this.replayLimit = bytes;
    }
  }

  /**
   * A backend has connected: its first byte is timed from now on. `firstByteMs`
   * arms the first-byte timeout (0 = off); `replayed` says client bytes were
   * already written to it (a replay), which starts that clock at once.
   */
  protected attemptStarted(firstByteMs: number, replayed: boolean): void {
    this.connectedAt = performance.now();
    this.firstByteMs = -1;
    this.clientFirstAt = 0;
    this.firstByteLimit = firstByteMs;
    this.early = true;
    if (replayed) this.clientStarted(this.connectedAt);
  }

  /** The attempt is over (a retry, or the close): no timer is left running. */
  protected attemptEnded(): void {
    if (this.firstByteTimer !== null) clearTimeout(this.firstByteTimer);
    this.firstByteTimer = null;
  }

  protected clientFirstBytes(chunk: Buffer): void {
    if (this.clientFirstAt === 0) this.clientStarted(performance.now());
    const replay = this.replay;
    if (replay !== null) {
      this.replayed += chunk.length;
      // more than the buffer holds: this client is not replayed
      if (this.replayed > this.replayLimit) this.replay = null;
      else replay.push(chunk);
    }
    const w = this.watch;
    if (w !== null) {
      const p = w.client(chunk);
      if (p !== null) this.watched(p);
    }
    this.settle();
  }

  protected backendFirstBytes(chunk: Buffer): void {
    if (this.firstByteMs < 0) {
      const now = performance.now();
      // the backend answered: nothing to replay or time out any more
      this.attemptEnded();
      this.replay = null;
      const ms = now - (this.clientFirstAt > 0 ? this.clientFirstAt : this.connectedAt);
      this.firstByteMs = ms;
      const slot = this.backendSlot;
      this.table.backends.resetConsecutiveFailures(slot);
      this.table.backends.updateEwmaFirstByte(slot, ms);
      this.table.backendStats.observe(this.worker, slot, Histogram.FirstByte, ms / 1000);
    }
    const w = this.watch;
    if (w !== null) {
      const p = w.server(chunk);
      if (p !== null) this.watched(p);
    }
    this.settle();
  }

  /**
   * The backend's FIN came before its first byte and is passed on: that is its
   * whole answer. Nothing is replayed any more (the client sees the FIN), and
   * no first byte is waited for: the first-byte timeout ends, and the client's
   * bytes after the FIN do not start it.
   */
  protected answeredWithFin(): void {
    this.attemptEnded();
    this.replay = null;
    this.firstByteLimit = 0;
  }

  /** The protocol as it stands when the connection closes, if no bytes decided it. */
  protected watchFinal(): void {
    const w = this.watch;
    if (w !== null) this.watched(w.final());
  }

  private clientStarted(now: number): void {
    this.clientFirstAt = now;
    if (this.firstByteLimit > 0 && this.firstByteMs < 0 && this.firstByteTimer === null) {
      this.firstByteTimer = guardedTimeout(this, this.onFirstByteTimer, this.firstByteLimit);
    }
  }

  private watched(p: Protocol): void {
    this.watch = null;
    this.protocolSeen(p);
  }

  private settle(): void {
    this.early = this.firstByteMs < 0 || this.watch !== null;
  }

  private readonly onFirstByteTimer = (): void => {
    this.firstByteTimer = null;
    if (this.firstByteMs < 0) this.firstByteTimedOut();
  };
}
