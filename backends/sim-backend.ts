// One simulated backend: a listener (recreated when a refuse or crash fault ends),
// the connections it accepted, its behaviour and counters. The listener is a plain
// net.Server in every mode; in HTTP mode accepted sockets are handed to an
// http.Server that never listens itself, so closing the listener (fault refuse)
// leaves open keep-alive connections, and the /_sim endpoint on them, working.
import { createServer, type Server, type Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import { NetmonError } from '../daemon/errors.js';
import {
  applyPatch,
  defaultBehaviour,
  describeBehaviour,
  type Behaviour,
  type BehaviourPatch,
  type SimFault,
} from './behaviour.js';
import type { BackendContext } from './context.js';
import { createHttpApp } from './http-app.js';
import { memoryPercent, registerLoadSource, unregisterLoadSource, type LoadSource } from './load-meter.js';
import { createSimMetrics, type SimCounters, type SimMetrics } from './sim-metrics.js';
import { serveEcho, serveSink, serveSource, type TcpMode } from './tcp-modes.js';

export type BackendMode = 'http' | TcpMode;
const BACKEND_MODES: readonly BackendMode[] = ['http', 'echo', 'sink', 'source'];

export interface StartBackendOptions {
  /** default "b1" */
  name?: string;
  /** default 127.0.0.1 */
  host?: string;
  /** default 0 (an ephemeral port; `port` tells which) */
  port?: number;
  /** default http */
  mode?: BackendMode;
  /** source mode: bytes per connection, 0 = until the client goes away (default 0) */
  sourceBytes?: number;
  /** behaviour at start (and what reset() returns to) */
  behaviour?: BehaviourPatch;
  /** fault crash ends the whole process (exit code 70) instead of only this backend */
  exitOnCrash?: boolean;
  /** listen backlog (default 4096, so benchmark bursts are not dropped) */
  backlog?: number;
  /** randomness for latency and errors; tests pass a seeded one */
  random?: () => number;
  /** fault changes, listener up/down: for logging */
  onEvent?: (event: SimEvent) => void;
}

export type SimEvent =
  | { type: 'listening'; name: string; address: string }
  | { type: 'fault'; name: string; fault: SimFault; previous: SimFault }
  | { type: 'listener-closed'; name: string; reason: 'refuse' | 'crash' | 'stop' };

interface SimStats {
  name: string;
  mode: BackendMode;
  /** HTTP requests (all routes but /_sim), or connections served in TCP modes */
  requests: number;
  /** simulated errors: 500 answers, reset connections */
  errors: number;
  /** open now */
  connections: number;
  connectionsTotal: number;
  bytesIn: number;
  bytesOut: number;
  listening: boolean;
  fault: SimFault;
}

export interface SimBackend {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly mode: BackendMode;
  /** "127.0.0.1:5001" ("[::1]:5001" for IPv6), as a netmon config wants it */
  readonly address: string;
  behaviour(): Behaviour;
  /** validates and applies; a refuse/crash fault closes the listener, leaving it reopens it */
  setBehaviour(patch: BehaviourPatch): Promise<Behaviour>;
  /** back to the behaviour given at start */
  reset(): Promise<Behaviour>;
  stats(): SimStats;
  /** closes the listener and every connection */
  stop(): Promise<void>;
}

class Backend implements SimBackend, BackendContext, LoadSource {
  readonly name: string;
  readonly host: string;
  readonly mode: BackendMode;
  readonly sourceBytes: number;
  readonly random: () => number;
  readonly counters: SimCounters = {
    requests: 0,
    errors: 0,
    connectionsTotal: 0,
    openConnections: 0,
    bytesIn: 0,
    bytesOut: 0,
  };
  readonly metrics: SimMetrics;
  attributedCpu = 0;
  port: number;
  private current: Behaviour;
  private readonly initial: Behaviour;
  private readonly sockets = new Set<Socket>();
  private readonly http: HttpServer | undefined;
  private readonly backlog: number;
  private readonly exitOnCrash: boolean;
  private readonly onEvent: (event: SimEvent) => void;
  private listener: Server | undefined;
  private faultTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private decided = 0;
  private busyMs = 0;
  private busyRequests = 0;
  /** serialises listener changes so quick fault flips cannot interleave */
  private transition: Promise<unknown> = Promise.resolve();

  constructor(opts: StartBackendOptions, initial: Behaviour) {
    this.name = opts.name ?? 'b1';
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port ?? 0;
    this.mode = opts.mode ?? 'http';
    this.sourceBytes = opts.sourceBytes ?? 0;
    this.random = opts.random ?? Math.random;
    this.backlog = opts.backlog ?? 4096;
    this.exitOnCrash = opts.exitOnCrash ?? false;
    this.onEvent = opts.onEvent ?? (() => {});
    this.initial = initial;
    this.current = initial;
    this.metrics = createSimMetrics(this.name, this.counters, () => this.attributedCpu, memoryPercent);
    this.http = this.mode === 'http' ? createHttpApp(this) : undefined;
  }

  get address(): string {
    return this.host.includes(':') ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  behaviour(): Behaviour {
    return this.current;
  }

  decideError(): boolean {
    const b = this.current;
    if (b.errorRate <= 0) return false;
    if (b.errorSpread === 'random') return this.random() < b.errorRate;
    // exactly floor(n * rate) failures among the first n decisions, spread evenly
    const n = this.decided++;
    return Math.floor((n + 1) * b.errorRate + 1e-9) > Math.floor(n * b.errorRate + 1e-9);
  }

  cpuPercent(): number {
    return this.attributedCpu;
  }

  addBusy(ms: number): void {
    this.busyMs += ms;
    this.busyRequests++;
  }

  takeBusy(): { busyMs: number; requests: number } {
    const out = { busyMs: this.busyMs, requests: this.busyRequests };
    this.busyMs = 0;
    this.busyRequests = 0;
    return out;
  }

  stats(): SimStats {
    const c = this.counters;
    return {
      name: this.name,
      mode: this.mode,
      requests: c.requests,
      errors: c.errors,
      connections: c.openConnections,
      connectionsTotal: c.connectionsTotal,
      bytesIn: c.bytesIn,
      bytesOut: c.bytesOut,
      listening: this.listener !== undefined,
      fault: this.current.fault,
    };
  }

  describe(): Record<string, unknown> {
    return {
      name: this.name,
      mode: this.mode,
      address: this.address,
      behaviour: describeBehaviour(this.current),
      stats: this.stats(),
    };
  }

  setBehaviour(patch: BehaviourPatch): Promise<Behaviour> {
    if (this.stopped) return Promise.reject(new NetmonError('E_BAD_ARGUMENT', `backend ${this.name} is stopped`));
    let applied: { behaviour: Behaviour; faultForMs?: number };
    try {
      applied = applyPatch(this.current, patch);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.enter(applied.behaviour, applied.faultForMs);
  }

  reset(): Promise<Behaviour> {
    if (this.stopped) return Promise.reject(new NetmonError('E_BAD_ARGUMENT', `backend ${this.name} is stopped`));
    return this.enter(this.initial, undefined);
  }

  private enter(next: Behaviour, faultForMs: number | undefined): Promise<Behaviour> {
    const previous = this.current.fault;
    this.current = next;
    this.decided = 0;
    clearTimeout(this.faultTimer);
    this.faultTimer = undefined;
    if (faultForMs !== undefined) {
      this.faultTimer = setTimeout(() => {
        this.faultTimer = undefined;
        if (!this.stopped) this.setBehaviour({ fault: 'none' }).catch(() => {});
      }, faultForMs);
      this.faultTimer.unref();
    }
    if (next.fault !== previous) this.onEvent({ type: 'fault', name: this.name, fault: next.fault, previous });
    const step = async (): Promise<Behaviour> => {
      if (this.stopped) return this.current;
      const fault = this.current.fault;
      if (fault === 'crash') this.crash();
      else if (fault === 'refuse') this.closeListener('refuse');
      else if (!this.listener) await this.listen();
      return this.current;
    };
    const result = this.transition.then(step, step);
    this.transition = result.catch(() => {});
    return result;
  }

  async listen(): Promise<void> {
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.host, port: this.port, backlog: this.backlog }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => {});
    const addr = server.address();
    if (addr && typeof addr === 'object') this.port = addr.port;
    this.listener = server;
    this.onEvent({ type: 'listening', name: this.name, address: this.address });
  }

  private closeListener(reason: 'refuse' | 'crash' | 'stop'): Promise<void> {
    const server = this.listener;
    if (!server) return Promise.resolve();
    this.listener = undefined;
    this.onEvent({ type: 'listener-closed', name: this.name, reason });
    // the listening socket closes now; 'close' waits for accepted connections
    return new Promise((resolve) => server.close(() => resolve()));
  }

  private crash(): void {
    void this.closeListener('crash');
    // one macrotask later, so a POST /_sim that asked for the crash still gets its answer
    setImmediate(() => {
      for (const s of this.sockets) s.resetAndDestroy();
      if (this.exitOnCrash) process.exit(70);
    });
  }

  private accept(socket: Socket): void {
    const c = this.counters;
    c.connectionsTotal++;
    c.openConnections++;
    this.sockets.add(socket);
    socket.once('close', () => {
      c.openConnections--;
      this.sockets.delete(socket);
    });
    // a client that resets is normal for a backend under test; never crash on it
    socket.on('error', () => {});
    if (this.mode === 'http') {
      this.http!.emit('connection', socket);
      return;
    }
    c.requests++;
    if (this.current.fault === 'hang') {
      socket.pause();
      return;
    }
    if (this.mode === 'echo') serveEcho(this, socket);
    else if (this.mode === 'sink') serveSink(this, socket);
    else serveSource(this, socket);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.faultTimer);
    unregisterLoadSource(this);
    await this.transition;
    const closed = this.closeListener('stop');
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

/** Starts one simulated backend; resolves once it accepts connections (unless started in refuse/crash). */
export async function startBackend(opts: StartBackendOptions = {}): Promise<SimBackend> {
  const mode = opts.mode ?? 'http';
  if (!BACKEND_MODES.includes(mode)) {
    throw new NetmonError('E_ENUM', `mode: must be one of ${BACKEND_MODES.join(', ')}, got "${mode}"`);
  }
  if (opts.port !== undefined && (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535)) {
    throw new NetmonError('E_PORT_RANGE', `port: must be 0..65535, got ${opts.port}`);
  }
  if (opts.sourceBytes !== undefined && (!Number.isInteger(opts.sourceBytes) || opts.sourceBytes < 0)) {
    throw new NetmonError('E_RANGE', `sourceBytes: must be a non-negative integer, got ${opts.sourceBytes}`);
  }
  const initial = applyPatch(defaultBehaviour(), opts.behaviour ?? {}).behaviour;
  const backend = new Backend(opts, initial);
  const startFault = initial.fault;
  // a backend that starts refusing still needs its port: bind, then close
  await backend.listen();
  if (startFault === 'refuse' || startFault === 'crash') await backend.setBehaviour({});
  registerLoadSource(backend);
  return backend;
}

export interface StartBackendsOptions extends Omit<StartBackendOptions, 'name' | 'port' | 'behaviour'> {
  /** first port; backend i listens on basePort + i - 1. 0 or omitted: ephemeral ports */
  basePort?: number;
  /** names are `${prefix}${i}`, default "b" */
  prefix?: string;
  /** behaviour of every backend, or one per backend (index 0 is b1) */
  behaviour?: BehaviourPatch | BehaviourPatch[];
}

/** Starts b1..bN; if one fails to start, the ones already started are stopped. */
export async function startBackends(count: number, opts: StartBackendsOptions = {}): Promise<SimBackend[]> {
  if (!Number.isInteger(count) || count < 1 || count > 1000) {
    throw new NetmonError('E_RANGE', `count: must be 1..1000, got ${count}`);
  }
  const { basePort = 0, prefix = 'b', behaviour, ...rest } = opts;
  const started: SimBackend[] = [];
  try {
    for (let i = 1; i <= count; i++) {
      const b = Array.isArray(behaviour) ? behaviour[i - 1] : behaviour;
      started.push(
        await startBackend({
          ...rest,
          name: `${prefix}${i}`,
          port: basePort > 0 ? basePort + i - 1 : 0,
          ...(b ? { behaviour: b } : {}),
        }),
      );
    }
  } catch (err) {
    await Promise.all(started.map((b) => b.stop()));
    throw err;
  }
  return started;
}
