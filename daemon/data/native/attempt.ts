// A natively relayed connection's attempts at a backend (connection.ts owns
// the rest of its life; the pick and the pool's queue are ../pool-wait.ts's,
// through ../connection-base.ts as on the Node relay): the connect (by the
// relay, or after a lookup for a backend given by name), retries on another
// backend under retry_on connect_failure, the PROXY header out, and what the
// relay reports of the attempt: connected, the backend's first byte, an empty
// answer (the backend closed or reset before its first byte while that is its
// failure) and a first-byte timeout, counted and retried (with the client's
// bytes replayed under retry_on empty_response) as the Node relay does
// (../backend-attempt.ts). Which empty answers an attempt may retry is told to
// the relay with its connect; it passes the others on as they came (a FIN as
// a half-close), and reports them to be counted. Its
// timer and its lookup run under the connection's fault guard
// (../fault-guard.ts); no descriptor for the backend socket (EMFILE/ENFILE) is
// netmon's own limit, never the backend's, as on the Node relay.
import net from 'node:net';
import { lookup } from 'node:dns/promises';
import { constants } from 'node:os';
import { Histogram, type ConnectErrorReason } from '../../state/names.js';
import { clientAddress } from '../../net/ip.js';
import { CONNECT_ERROR_CODE, ConnectionBase, Phase } from '../connection-base.js';
import { buildProxyV1, buildProxyV2 } from '../edge/proxy-protocol.js';
import type { MemberPlan } from '../plan.js';
import type { ListenerRuntime, WorkerContext } from '../worker-context.js';
import { ENOENT, RelayRetry, type NativeRelay } from './relay.js';

const { ECONNREFUSED, ECONNRESET, EMFILE, ENFILE, ENODATA, ETIME, ETIMEDOUT } = constants.errno;

export abstract class NativeAttempt extends ConnectionBase {
  /** the PROXY header for the backend, built once for all attempts */
  protected header: Buffer | null = null;
  protected peerPort = 0;
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
    w: WorkerContext,
    listener: ListenerRuntime,
    protected readonly relay: NativeRelay,
  ) {
    super(w, listener, clientAddress(''));
  }

  /** Close the client (and a backend being connected to or relayed to): reset, or a plain close. */
  protected abstract closeClient(reset: boolean): void;

  protected pick(): void {
    this.phase = Phase.Picking;
    this.admitted = true;
    if (!this.nowIsFresh) this.ctx.now = performance.now();
    this.nowIsFresh = false;
    this.wait.pick(this.pool, this.attempts === 0);
  }

  protected connect(slot: number): void {
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
    // which empty answers fail this attempt (retried), as backend-attempt.ts emptyResponse decides
    const left = this.attempts <= plan.retries;
    const retry = left ? (plan.retryConnect ? RelayRetry.Silent : 0) | RelayRetry.Replay : 0;
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
      retry,
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
      if (errno === ENODATA || errno === ECONNRESET) return this.emptyResponse(errno);
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
   * replay (`replayable`, retry_on empty_response) and it still waits; the
   * connect's retry bits allowed a retry, so the relay reset the backend and
   * kept the client. A failed connection (response errors, passive health),
   * taken elsewhere, with the replay, as the Node relay does
   * (backend-attempt.ts emptyResponse). Should no attempt be left after all (a
   * reload lowered retries meanwhile), the client is closed, or reset after a
   * reset.
   */
  private emptyResponse(errno: number): void {
    this.emptyAnswer();
    if (this.retryElsewhere()) return;
    const reset = errno === ECONNRESET;
    this.termination = reset ? 'backend_reset' : 'backend_close';
    if (reset) {
      // counted as the Node relay counts a reset passed on (backend-attempt.ts abortBy)
      this.table.listeners.countReset(this.worker, this.listenerSlot, 'backend');
      this.table.backendStats.countReset(this.worker, this.held.backend, 'backend');
    }
    this.closeClient(reset);
    this.close();
  }

  /**
   * An empty answer no retry was allowed for: counted as the backend failing
   * (response errors, passive health), while the relay passes it on as it came
   * (a FIN as a half-close, a reset as a reset), as the Node relay does.
   */
  relayEmptyAnswer(_errno: number): void {
    if (this.phase === Phase.Relaying) this.emptyAnswer();
  }

  private emptyAnswer(): void {
    const slot = this.held.backend;
    this.table.backendStats.countResponseError(this.worker, slot, 'empty');
    this.backendFailed(slot);
    this.error = 'E_EMPTY_RESPONSE';
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
    // the attempts failed, as the Node relay says it (../backend-attempt.ts connectFailed)
    this.refuse('connect_failed');
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
