// One client connection from accept to close: admission, the preamble (PROXY
// header in, peek and routing), pick and queue, the attempts at backends
// (backend-attempt.ts: connect, retry, PROXY header out, failures and resets),
// the relay both ways (first-bytes.ts, relay-pump.ts), and one close path that
// gives back everything the connection took (reservations.ts) and writes the
// access line. An exception on its path resets it alone (fault-guard.ts);
// running out of file descriptors is a local error, never the backend's
// (backend-attempt.ts).
import type net from 'node:net';
import type { Protocol } from '../state/names.js';
import { isReset, BackendAttempt } from './backend-attempt.js';
import { Phase } from './connection-base.js';
import { guardSocket, resetSocket } from './fault-guard.js';
import { readPreamble, type Preamble } from './edge/preamble.js';
import { ProtocolWatch } from './edge/protocol-watch.js';
import type { ListenerRuntime, WorkerContext } from './worker-context.js';

export class Connection extends BackendAttempt {
  constructor(w: WorkerContext, listener: ListenerRuntime, client: net.Socket) {
    super(w, listener, client);
    this.acceptedAt = performance.now();
    guardSocket(client, this);
    client.on('error', this.onClientError);
    client.on('close', this.onClientClose);
  }

  /** Admit the connection and start serving it, or refuse it (counted by reason). */
  open(): void {
    if (!this.admit()) return;
    const edge = this.listener.edge;
    if (edge === null || !edge.preamble) return this.pick();
    this.phase = Phase.Preamble;
    readPreamble(edge, this.client, this.peer)
      .then(this.onPreamble)
      .catch((err: unknown) => this.fault(err, 'preamble'));
  }

  private readonly onPreamble = (p: Preamble): void => {
    if (!this.preambleTaken(p)) return;
    if (p.ok && p.ended) this.clientEnded = true;
    this.pick();
  };

  // ---- pick and queue ----

  protected pick(): void {
    this.phase = Phase.Picking;
    if (!this.admitted) {
      this.admitted = true;
      const edge = this.listener.edge;
      if (edge !== null && edge.watchesProtocol) this.watch = new ProtocolWatch(edge.inspectBytes);
      this.keepForReplay(this.pool.plan.replayBytes);
    }
    this.readWhileWaiting();
    this.ctx.now = performance.now();
    this.wait.pick(this.pool, this.attempts === 0);
  }

  protected protocolSeen(p: Protocol): void {
    this.table.listeners.countProtocol(this.worker, this.listenerSlot, p);
  }

  // ---- the end ----

  private readonly onClientError = (err: NodeJS.ErrnoException): void => {
    if (this.phase === Phase.Closed || this.aborted !== null) return;
    this.abortBy('client', isReset(err) ? 'client_reset' : 'client_error');
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

  protected resetClient(): void {
    resetSocket(this.client);
  }

  protected resetBoth(): void {
    resetSocket(this.client);
    resetSocket(this.backend);
  }

  /** The one close path: give back what is held, once, and write the access line. */
  protected close(): void {
    const phase = this.phase;
    if (phase === Phase.Closed) return;
    this.phase = Phase.Closed;
    this.attemptEnded();
    if (this.admitted) this.watchFinal();
    this.closed(phase, performance.now());
  }
}
