// Data-plane thread: opens its own SO_REUSEPORT listening socket for every
// listener (the kernel spreads accepts across workers), applies each config
// generation the main thread sends, and hands every accepted socket to a
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
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Table } from '../state/table.js';
import { log, setLogLevel } from '../log.js';
import { Connection } from './connection.js';
import { RefusalLines } from './access-log.js';
import { ListenerEdge } from './edge/listener-edge.js';
import type {
  FromWorker,
  InjectedFault,
  ListenerPlan,
  ListenFailure,
  ToWorker,
  WorkerInit,
  WorkerPlan,
} from './plan.js';
import { PoolQueue, PoolRuntime } from './pool-queue.js';
import type { GlobalLimit } from './reservations.js';
import type { ListenerRuntime, OpenConnection, WorkerContext } from './worker-context.js';
import { reportFault, resetSocket } from './fault-guard.js';
import { crashSoon, faultyRuntime, plantFault, plantNativeFault } from './fault-injection.js';
import { FdGuard } from './fd-guard.js';
import { IdleGc } from './idle-gc.js';
import { isFdExhaustion } from '../process-fds.js';
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
  limit: GlobalLimit = { maxConnections: 0, listeners: [] };
  private readonly listeners = new Map<string, ListenerRuntime>();
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
    this.fds = new FdGuard(this.table, this.worker, init.cap.workers, {
      pause: () => this.pauseListening(),
      resume: () => this.resumeListening(),
    });
    this.native = new WorkerRelay(this.table, this.worker, this);
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
    const poolSlot = (name: string): number => plan.pools.find((p) => p.name === name)?.slot ?? -1;

    const failures: ListenFailure[] = [];
    const wanted = new Set(plan.listeners.map((l) => l.name));
    for (const [name, rt] of this.listeners) {
      if (!wanted.has(name)) {
        rt.server.close();
        this.listeners.delete(name);
      }
    }
    await Promise.all(
      plan.listeners.map(async (lp) => {
        // a socket passed by systemd is served by worker 0 alone: one fd is never shared between threads
        if (lp.fd !== undefined && this.worker !== 0) return;
        const cur = this.listeners.get(lp.name);
        // from typed plan values only; throws on what cannot be applied (ListenerEdge)
        const pool = pools.get(lp.pool);
        let edge: ListenerEdge | null = null;
        try {
          if (pool === undefined) throw new Error(`its pool slot ${lp.pool} is not in the plan`);
          edge = ListenerEdge.wanted(lp.edge)
            ? new ListenerEdge(lp.edge, poolSlot, { table: this.table, worker: this.worker, listener: lp.slot })
            : null;
        } catch (err) {
          // fail closed: a listener whose plan cannot be applied is not served, with these rules or the old
          cur?.server.close();
          this.listeners.delete(lp.name);
          const message = `cannot apply the plan: ${(err as Error).message}`;
          log.error('listener not served', { listener: lp.name, err: message });
          failures.push({ listener: lp.name, code: 'E_PLAN', message, serving: null });
          return;
        }
        if (pool === undefined) return;
        const refusal = this.native.refusal;
        if (refusal !== null) {
          // fail closed: the config asks for the native relay, which cannot run here
          cur?.server.close();
          this.listeners.delete(lp.name);
          failures.push({ listener: lp.name, code: 'E_PLAN', message: refusal, serving: null });
          return;
        }
        const { accept, native } = this.native.serving(edge);
        const same =
          cur?.accept === accept &&
          cur.native === native &&
          (lp.fd !== undefined
            ? cur.plan.fd === lp.fd
            : cur.plan.bind.host === lp.bind.host &&
              cur.plan.bind.port === lp.bind.port &&
              cur.plan.backlog === lp.backlog);
        if (cur && same) {
          cur.plan = lp;
          cur.pool = pool;
          cur.edge = edge;
          return;
        }
        try {
          const rt: ListenerRuntime = { plan: lp, server: CLOSED, accept, native, pool, edge };
          rt.server = accept === 'native' ? this.native.listen(rt) : await this.listen(lp);
          // a moved bind: the old socket stops accepting once the new one is up
          cur?.server.close();
          this.listeners.set(lp.name, rt);
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          // a moved bind that fails keeps the old socket: it goes on serving the new generation there
          if (cur) {
            cur.plan = { ...lp, bind: cur.plan.bind, backlog: cur.plan.backlog };
            cur.pool = pool;
            cur.edge = edge;
          }
          failures.push({
            listener: lp.name,
            code: 'E_LISTEN',
            message: `bind ${lp.bind.text}: ${e.message}`,
            serving: cur ? cur.plan.bind.text : null,
          });
        }
      }),
    );
    this.post({ type: 'applied', generation: plan.generation, failures, listening: this.listening });
  }

  private listen(lp: ListenerPlan): Promise<net.Server> {
    return new Promise((resolve, reject) => {
      const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true, noDelay: true });
      server.on('connection', (socket) => this.onConnection(lp.name, socket));
      server.once('error', reject);
      const where =
        lp.fd !== undefined
          ? { fd: lp.fd }
          : { host: lp.bind.host, port: lp.bind.port, backlog: lp.backlog, reusePort: true };
      server.listen(where, () => {
        server.removeListener('error', reject);
        server.on('error', (err) => {
          // at the descriptor limit, when libuv cannot keep its spare one
          if (isFdExhaustion(err)) this.fds.exhausted(err, 'accept');
          else log.error('listener error', { listener: lp.name, err });
        });
        resolve(server);
      });
    });
  }

  private onConnection(listenerName: string, socket: net.Socket): void {
    const rt = this.listeners.get(listenerName);
    if (!rt || this.stopping) {
      // never served: a reset, not a FIN that would look like a completed exchange
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
      // never served: a reset, not a FIN that would look like a completed exchange
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

  /**
   * Close every listening socket this worker can reopen (not systemd's), the
   * native relay's as Node's (native/worker-relay.ts says why); returns the
   * listeners' names.
   */
  private pauseListening(): string[] {
    const closed: string[] = [];
    for (const [name, rt] of this.listeners) {
      if (rt.plan.fd !== undefined || !rt.server.listening) continue;
      rt.server.close();
      closed.push(name);
    }
    return closed;
  }

  /** Reopen the listeners pauseListening() closed; resolves with those that failed to bind. */
  private async resumeListening(): Promise<string[]> {
    const failed: string[] = [];
    for (const [name, rt] of this.listeners) {
      if (rt.plan.fd !== undefined || rt.server.listening || this.stopping) continue;
      try {
        rt.server = rt.accept === 'native' ? this.native.listen(rt) : await this.listen(rt.plan);
      } catch (err) {
        failed.push(name);
        log.debug('listener not reopened yet', { listener: name, err });
      }
    }
    return failed;
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
    if (this.stopping && this.open.size === 0) this.post({ type: 'drained' });
  }

  /** names of the listeners this worker has a socket open for */
  get listening(): string[] {
    return [...this.listeners.keys()];
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
    for (const rt of this.listeners.values()) rt.server.close();
    this.listeners.clear();
    if (this.open.size === 0) this.post({ type: 'drained' });
    // the last one to close says 'drained' (closed())
    else if (immediate) for (const c of [...this.open]) c.abort('shutdown');
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
    const lag = monitorEventLoopDelay({ resolution: 20 });
    lag.enable();
    const idleGc = new IdleGc(IdleGc.exposed());
    const beat = (): void => {
      const cpu = process.threadCpuUsage?.() ?? { user: 0, system: 0 };
      this.table.workers.beat(this.worker, Date.now(), lag.mean / 1e6 || 0, cpu.user / 1e6, cpu.system / 1e6);
      this.native.publish();
      lag.reset();
      idleGc.beat(this.table.workers.stats(this.worker).accepted);
      this.fds.tick();
    };
    beat();
    setInterval(beat, HEARTBEAT_MS).unref();
  }
}

/** a listener's socket before it is opened */
const CLOSED = { listening: false, close(): void {} };

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
});
apply(init.plan);
log.debug('worker started', { worker: init.id, threadId });
