// Data-plane thread: keeps its listening sockets (worker-listeners.ts: its own
// SO_REUSEPORT socket for every listener), applies each config generation the
// main thread sends, and hands every accepted socket to a
// Connection (connection.ts), which owns it from there to its close. It reads
// health and admin state from the shared table; it never writes them. An
// exception on one connection's path resets that connection alone
// (fault-guard.ts); one outside any connection ends the worker, after it reset
// every connection it held (die()). Short of file descriptors it stops
// accepting for a while (fd-guard.ts).
//
// With the native relay ([data] relay, native/worker-relay.ts) each client is
// a NativeConnection, accepted by the relay (or by Node, for a preamble), and
// guarded, counted by the fd guard, paused and reset as a Connection is.
import net from 'node:net';
import { parentPort, workerData, threadId } from 'node:worker_threads';
import { Table } from '../state/table.js';
import { flushLog, log, setLogLevel } from '../log.js';
import { Connection } from './connection.js';
import { RefusalLines } from './access-log.js';
import type { FromWorker, InjectedFault, ListenFailure, ToWorker, WorkerInit, WorkerPlan } from './plan.js';
import { PoolQueue, PoolRuntime } from './pool-queue.js';
import type { GlobalLimit } from './reservations.js';
import type { ListenerRuntime, OpenConnection, WorkerContext } from './worker-context.js';
import { reportFault, resetSocket } from './fault-guard.js';
import { crashSoon, faultyRuntime, plantFault, plantNativeFault, stall } from './fault-injection.js';
import { FdGuard } from './fd-guard.js';
import { WorkerListeners } from './worker-listeners.js';
import { IdleGc } from './idle-gc.js';
import { LoopLag } from '../loop-lag.js';
import { NativeConnection, type AcceptedClient } from './native/connection.js';
import type { NativeRelay } from './native/relay.js';
import { WorkerRelay, type NativeAccepts } from './native/worker-relay.js';

const HEARTBEAT_MS = 1000;

class Worker implements WorkerContext, NativeAccepts {
  readonly table: Table;
  readonly worker: number;
  accessLog: boolean;
  readonly refusals: RefusalLines;
  stopping = false;
  get fdsShort(): boolean {
    return this.fds.short;
  }
  limit: GlobalLimit = { maxConnections: 0, listeners: [] };
  private readonly listeners: WorkerListeners;
  private pools = new Map<number, PoolRuntime>();
  /** this worker's part of each pool slot's queue, kept across generations (waiters keep waiting in it) */
  private readonly queues = new Map<number, PoolQueue>();
  /** every connection accepted and not yet closed, whatever its phase */
  private readonly open = new Set<OpenConnection>();
  private readonly fds: FdGuard;
  /** test hook: listeners whose connections meet an injected fault */
  private readonly faults = new Map<string, InjectedFault>();
  private dying = false;
  private readonly native: WorkerRelay;

  constructor(init: WorkerInit) {
    this.worker = init.id;
    this.table = new Table(init.cap, init.buffer);
    this.accessLog = init.plan.accessLog;
    this.refusals = new RefusalLines(this.worker, (n) => this.table.workers.countAccessSuppressed(this.worker, n));
    this.native = new WorkerRelay(this.table, this.worker, this);
    this.listeners = new WorkerListeners(this.table, this.worker, this.native, {
      connection: (name, socket) => this.onConnection(name, socket),
      outOfFds: (err) => this.fds.exhausted(err, 'accept'),
    });
    this.fds = new FdGuard(this.table, this.worker, init.cap.workers, this.listeners);
  }

  /**
   * Serve `plan`: pools rebuilt (open connections keep the runtimes they
   * started with), listeners opened, moved or closed. Answers the main thread
   * with what it is actually listening on and what failed to bind.
   */
  async apply(plan: WorkerPlan): Promise<void> {
    setLogLevel(plan.logLevel);
    this.accessLog = plan.accessLog;
    this.native.use(plan.relay);
    this.limit = { maxConnections: plan.edge?.maxConnections ?? 0, listeners: plan.listeners.map((l) => l.slot) };
    const pools = new Map<number, PoolRuntime>();
    for (const p of plan.pools) pools.set(p.slot, new PoolRuntime(p, this.table, this.queue(p.slot)));
    this.pools = pools;
    const failures = await this.listeners.apply(plan, pools);
    this.native.settle(this.listeners.runtimes());
    this.post({ type: 'applied', generation: plan.generation, failures, listening: this.listening });
  }

  private onConnection(listenerName: string, socket: net.Socket): void {
    const rt = this.listeners.get(listenerName);
    if (!rt || this.stopping) {
      // never served: a reset, not a FIN that would look like a completed exchange; counted as the stop's
      if (this.stopping) this.table.workers.countStopResets(this.worker, 0, 1);
      resetSocket(socket);
      return;
    }
    this.fds.accepted();
    let c: Connection | NativeConnection | null = null;
    try {
      const fault = this.faults.get(listenerName);
      const served = fault === undefined ? rt : faultyRuntime(fault, rt);
      const relay = this.native.relaying;
      // a preamble listener of the native relay: read on Node, handed to the relay once read
      c =
        relay !== null && rt.native
          ? new NativeConnection(this, served, relay, socket)
          : new Connection(this, served, socket);
      this.open.add(c);
      if (fault !== undefined) plantFault(fault, c, socket);
      c.open();
    } catch (err) {
      if (c !== null) return c.fault(err, 'accept');
      reportFault(this.table, this.worker, err, { where: 'accept', listener: listenerName });
      resetSocket(socket);
    }
  }

  /** A client the native relay accepted: served as onConnection serves Node's, under the same guard. */
  serveAccepted(rt: ListenerRuntime, relay: NativeRelay, client: AcceptedClient): void {
    if (this.stopping) {
      // accepted in the batch the stop closed the listener in: never served, a reset, counted as the stop's
      this.table.workers.countStopResets(this.worker, 0, 1);
      relay.close(client.id, true);
      return;
    }
    this.fds.accepted();
    let c: NativeConnection | null = null;
    try {
      const fault = this.faults.get(rt.plan.name);
      c = NativeConnection.accepted(this, fault === undefined ? rt : faultyRuntime(fault, rt), relay, client);
      this.open.add(c);
      if (fault !== undefined) plantNativeFault(fault, c);
      c.open();
    } catch (err) {
      if (c !== null) return c.fault(err, 'accept');
      reportFault(this.table, this.worker, err, { where: 'accept', listener: rt.plan.name });
      relay.close(client.id, true);
    }
  }

  outOfFdsOnAccept(err: NodeJS.ErrnoException): void {
    this.fds.exhausted(err, 'accept');
  }

  private queue(slot: number): PoolQueue {
    let q = this.queues.get(slot);
    if (q === undefined) {
      q = new PoolQueue(this.table, this.worker, slot);
      this.queues.set(slot, q);
    }
    return q;
  }

  // ---- WorkerContext ----
  pool(slot: number): PoolRuntime | undefined {
    return this.pools.get(slot);
  }

  reportPassive(slot: number): void {
    this.post({ type: 'passive', slot });
  }

  outOfFds(err: NodeJS.ErrnoException): void {
    this.fds.exhausted(err, 'connect');
  }

  closed(c: OpenConnection): void {
    if (!this.open.delete(c)) return;
    if (this.stopping && this.open.size === 0) this.drained();
  }

  /**
   * Tell the main thread this worker holds no connection, once its log lines
   * are written: the main thread may end the thread right after (a batch of
   * lines still gathered would be lost with it, access lines of connections
   * just cut among them).
   */
  private drained(): void {
    flushLog();
    this.post({ type: 'drained' });
  }

  /** names of the listeners this worker has a socket open for */
  get listening(): string[] {
    return this.listeners.names;
  }

  // ---- lifecycle ----
  /**
   * Stop accepting. Graceful: open connections finish on their own (the main
   * thread bounds the wait by drain_timeout). Immediate: every connection is
   * cut now, through its own close path.
   */
  stop(immediate: boolean): void {
    this.stopping = true;
    this.fds.stop();
    // the kernel resets the clients left in a closed listening socket's accept queue: counted and said
    const queued = this.listeners.closeAll();
    if (queued > 0) {
      this.table.workers.countStopResets(this.worker, 0, queued);
      log.warn('stopping: clients waiting in the accept queue were reset as the listeners closed', {
        worker: this.worker,
        clients: queued,
      });
    }
    if (this.open.size === 0) return this.drained();
    if (!immediate) return; // the last one to close says 'drained' (closed())
    // counted before the first is cut: the main thread reads the count once this worker is drained
    this.table.workers.countStopResets(this.worker, this.open.size, 0);
    for (const c of [...this.open]) c.abort('shutdown');
  }

  /**
   * Last resort: an exception outside any connection's guard. The worker's
   * state may be broken, so it ends; but first every connection it holds is
   * reset: a thread that just ends has its sockets closed by libuv with a FIN,
   * which a client takes for a complete stream. The main thread restarts it.
   */
  die(err: unknown, what: string): void {
    if (this.dying) process.exit(70);
    // not `stopping`: a dying worker is not drained, and must not say so
    this.dying = true;
    this.table.workers.countInternalError(this.worker);
    const e = err instanceof Error ? err : new Error(String(err));
    log.error(`worker failed (${what}): resetting its ${this.open.size} connection(s) and exiting; it is restarted`, {
      worker: this.worker,
      err: { name: e.name, message: e.message, stack: e.stack },
    });
    for (const c of [...this.open]) {
      try {
        c.abort('internal_error');
      } catch {
        // its sockets were reset before its close path ran; the rest is given back at exit
      }
    }
    process.exit(70); // EX_SOFTWARE
  }

  /** Test hook: arm (or disarm) a fault on a listener's connections. */
  armFault(listener: string, at: InjectedFault | null): void {
    if (at === null) this.faults.delete(listener);
    else this.faults.set(listener, at);
  }

  post(m: FromWorker): void {
    parentPort!.postMessage(m);
  }

  startHeartbeat(): void {
    const lag = new LoopLag();
    const idleGc = new IdleGc(IdleGc.exposed());
    const beat = (): void => {
      const cpu = process.threadCpuUsage?.() ?? { user: 0, system: 0 };
      this.table.workers.beat(this.worker, Date.now(), lag.read(), cpu.user / 1e6, cpu.system / 1e6);
      this.native.publish();
      idleGc.beat(this.table.workers.stats(this.worker).accepted);
      this.fds.tick();
    };
    beat();
    setInterval(beat, HEARTBEAT_MS).unref();
  }
}

const init = workerData as WorkerInit;
const w = new Worker(init);
process.on('uncaughtException', (err) => w.die(err, 'uncaught exception'));
process.on('unhandledRejection', (err) => w.die(err, 'unhandled rejection'));
w.table.workers.countStart(init.id);
w.startHeartbeat();
// a plan that throws while applied is reported, not left to kill the thread silently
const apply = (plan: WorkerPlan): void => {
  w.apply(plan).catch((err: unknown) => {
    const message = `cannot apply the plan: ${err instanceof Error ? err.message : String(err)}`;
    log.error('plan not applied', { generation: plan.generation, err: message });
    const failures: ListenFailure[] = [{ listener: '*', code: 'E_PLAN', message, serving: null }];
    w.post({ type: 'applied', generation: plan.generation, failures, listening: w.listening });
  });
};
parentPort!.on('message', (m: ToWorker) => {
  if (m.type === 'plan') apply(m.plan);
  else if (m.type === 'stop') w.stop(m.immediate);
  else if (m.type === 'fault') w.armFault(m.listener, m.at);
  else if (m.type === 'crash') crashSoon();
  else if (m.type === 'stall') stall(m.ms);
});
apply(init.plan);
log.debug('worker started', { worker: init.id, threadId });
