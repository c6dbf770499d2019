// Data-plane thread: opens its own SO_REUSEPORT listening socket for every
// listener (the kernel spreads accepts across workers), and relays connections.
// It reads health and admin state from the shared table; it never writes them.
import net from 'node:net';
import { parentPort, workerData, threadId } from 'node:worker_threads';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Table } from './state/table.js';
import { Connection, type AccessRecord } from './relay.js';
import { PoolPicker } from './balance/pool-picker.js';
import { log, setLogLevel } from './log.js';
import type { FromWorker, ListenerPlan, PoolPlan, ToWorker, WorkerInit, WorkerPlan } from './plan.js';
import type { PoolRuntime, WorkerServices } from './worker-runtime.js';

interface ListenerRuntime {
  plan: ListenerPlan;
  server: net.Server;
  pool: PoolRuntime;
}

const QUEUE_POLL_MS = 50;
const HEARTBEAT_MS = 1000;

class Worker implements WorkerServices {
  readonly table: Table;
  readonly worker: number;
  accessLog: boolean;
  private plan: WorkerPlan;
  private readonly listeners = new Map<string, ListenerRuntime>();
  private pools = new Map<number, PoolRuntime>();
  private readonly connections = new Set<Connection>();
  private queuePoll: NodeJS.Timeout | null = null;
  private stopping = false;
  private readonly names: { backends: Map<number, string>; listeners: Map<number, string> } = {
    backends: new Map(),
    listeners: new Map(),
  };

  constructor(init: WorkerInit) {
    this.worker = init.id;
    this.table = new Table(init.cap, init.buffer);
    this.plan = init.plan;
    this.accessLog = init.plan.accessLog;
  }

  async apply(plan: WorkerPlan): Promise<void> {
    setLogLevel(plan.logLevel);
    this.plan = plan;
    this.accessLog = plan.accessLog;
    // Pools are rebuilt per generation; connections keep the runtime they started with.
    const pools = new Map<number, PoolRuntime>();
    for (const p of plan.pools) pools.set(p.slot, this.poolRuntime(p));
    this.pools = pools;
    this.names.backends.clear();
    for (const p of plan.pools) for (const m of p.members) this.names.backends.set(m.slot, m.key);
    this.names.listeners.clear();
    for (const l of plan.listeners) this.names.listeners.set(l.slot, l.name);

    const errors: { listener: string; code: string; message: string }[] = [];
    const wanted = new Set(plan.listeners.map((l) => l.name));
    for (const [name, rt] of this.listeners) {
      if (!wanted.has(name)) {
        rt.server.close();
        this.listeners.delete(name);
      }
    }
    await Promise.all(
      plan.listeners.map(async (lp) => {
        const pool = pools.get(lp.pool)!;
        const cur = this.listeners.get(lp.name);
        if (cur && cur.plan.bind.text === lp.bind.text && cur.plan.backlog === lp.backlog) {
          cur.plan = lp;
          cur.pool = pool;
          return;
        }
        try {
          const server = await this.listen(lp);
          // a moved bind: the old socket stops accepting once the new one is up
          cur?.server.close();
          this.listeners.set(lp.name, { plan: lp, server, pool });
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          errors.push({ listener: lp.name, code: e.code ?? 'E_LISTEN', message: `bind ${lp.bind.text}: ${e.message}` });
        }
      }),
    );
    this.post({ type: 'applied', generation: plan.generation, errors });
  }

  private poolRuntime(p: PoolPlan): PoolRuntime {
    return {
      plan: p,
      picker: new PoolPicker({
        table: this.table,
        pool: p.slot,
        members: p.members.map((m) => ({ slot: m.slot, key: m.key, backup: m.backup })),
      }),
      members: new Map(p.members.map((m) => [m.slot, m])),
      queue: [],
    };
  }

  private listen(lp: ListenerPlan): Promise<net.Server> {
    return new Promise((resolve, reject) => {
      const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true, noDelay: true });
      server.on('connection', (socket) => this.onConnection(lp.name, socket));
      server.once('error', reject);
      server.listen({ host: lp.bind.host, port: lp.bind.port, backlog: lp.backlog, reusePort: true }, () => {
        server.removeListener('error', reject);
        server.on('error', (err) => log.error('listener error', { listener: lp.name, err }));
        resolve(server);
      });
    });
  }

  private onConnection(listenerName: string, socket: net.Socket): void {
    const rt = this.listeners.get(listenerName);
    if (!rt || this.stopping) {
      socket.destroy();
      return;
    }
    const slot = rt.plan.slot;
    if (!this.table.listenerEnabled(slot)) {
      this.table.countRejected(this.worker, slot, 'disabled');
      socket.destroy();
      return;
    }
    if (!this.table.acquireListener(this.worker, slot)) {
      this.table.countRejected(this.worker, slot, 'max_connections');
      socket.destroy();
      return;
    }
    this.table.workerConnectionOpened(this.worker);
    const c = new Connection(this, slot, rt.pool, socket, normaliseAddress(socket.remoteAddress));
    this.connections.add(c);
    c.start();
  }

  // ---- services for connections ----
  slotReleased(pool: PoolRuntime): void {
    while (pool.queue.length > 0 && pool.queue[0]!.retryFromQueue());
  }

  ensureQueuePoll(): void {
    if (this.queuePoll) return;
    this.queuePoll = setInterval(() => {
      let waiting = 0;
      for (const p of this.pools.values()) {
        this.slotReleased(p);
        waiting += p.queue.length;
      }
      if (waiting === 0 && this.queuePoll) {
        clearInterval(this.queuePoll);
        this.queuePoll = null;
      }
    }, QUEUE_POLL_MS);
  }

  reportPassive(slot: number): void {
    this.post({ type: 'passive', slot });
  }

  connectionClosed(c: Connection): void {
    if (!this.connections.delete(c)) return;
    this.table.workerConnectionClosed(this.worker);
    // the listener slot was taken at accept, before the relay existed
    this.table.releaseListener(this.worker, c.listenerSlot);
    if (this.stopping && this.connections.size === 0) this.post({ type: 'drained' });
  }

  writeAccessLog(r: AccessRecord): void {
    log.info('access', {
      client: r.client,
      listener: this.names.listeners.get(r.listenerSlot) ?? String(r.listenerSlot),
      pool: r.pool,
      backend: r.backendSlot >= 0 ? (this.names.backends.get(r.backendSlot) ?? String(r.backendSlot)) : null,
      bytes_in: r.bytesIn,
      bytes_out: r.bytesOut,
      connect_ms: r.connectMs >= 0 ? round(r.connectMs) : null,
      duration_ms: round(r.durationMs),
      termination: r.termination,
      attempts: r.attempts,
      worker: this.worker,
    });
  }

  writeProxyHeader(): void {
    // PROXY protocol output is wired by the edge module.
  }

  // ---- lifecycle ----
  stop(): void {
    this.stopping = true;
    for (const rt of this.listeners.values()) rt.server.close();
    this.listeners.clear();
    if (this.connections.size === 0) this.post({ type: 'drained' });
  }

  post(m: FromWorker): void {
    parentPort!.postMessage(m);
  }

  startHeartbeat(): void {
    const lag = monitorEventLoopDelay({ resolution: 20 });
    lag.enable();
    const beat = (): void => {
      const cpu = process.threadCpuUsage?.() ?? { user: 0, system: 0 };
      this.table.workerBeat(this.worker, Date.now(), lag.mean / 1e6 || 0, cpu.user / 1e6, cpu.system / 1e6);
      lag.reset();
    };
    beat();
    setInterval(beat, HEARTBEAT_MS).unref();
  }

  get currentPlan(): WorkerPlan {
    return this.plan;
  }
}

function normaliseAddress(a: string | undefined): string {
  if (!a) return '';
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

const init = workerData as WorkerInit;
const w = new Worker(init);
w.table.countWorkerStart(init.id);
w.startHeartbeat();
parentPort!.on('message', (m: ToWorker) => {
  if (m.type === 'plan') void w.apply(m.plan);
  else if (m.type === 'stop') w.stop();
});
void w.apply(init.plan);
log.debug('worker started', { worker: init.id, threadId });
