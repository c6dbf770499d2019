// Data-plane thread: opens its own SO_REUSEPORT listening socket for every
// listener (the kernel spreads accepts across workers), and relays connections.
// It reads health and admin state from the shared table; it never writes them.
import net from 'node:net';
import { parentPort, workerData, threadId } from 'node:worker_threads';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Table } from '../state/table.js';
import type { RejectReason } from '../state/names.js';
import { Connection } from './relay.js';
import type { AccessRecord } from './worker-runtime.js';
import { PoolPicker } from './balance/pool-picker.js';
import { log, setLogLevel } from '../log.js';
import type { FromWorker, ListenerPlan, PoolPlan, ToWorker, WorkerInit, WorkerPlan } from './plan.js';
import type { PoolRuntime, WorkerServices } from './worker-runtime.js';
import { ListenerEdge } from './edge/listener-edge.js';
import { clientAddress, type ClientAddress } from './edge/ip.js';
import { readPreamble, type Preamble } from './edge/preamble.js';

interface ListenerRuntime {
  plan: ListenerPlan;
  server: net.Server;
  pool: PoolRuntime;
  /** null: no edge feature configured, the accept path skips all of it */
  edge: ListenerEdge | null;
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
  /** accepted connections still reading their PROXY header or being peeked at */
  private preambles = 0;
  /** global max_connections over all listeners; 0 = unlimited */
  private maxConnections = 0;
  /** the shared source entry admitClient() counted the connection on, or -1 (saves an object per connection) */
  private admitted = -1;
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
    this.maxConnections = plan.edge?.maxConnections ?? 0;
    const poolByName = new Map(plan.pools.map((p) => [p.name, p.slot]));
    const poolSlot = (name: string): number => poolByName.get(name) ?? -1;
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
        const cur = this.listeners.get(lp.name);
        // a socket passed by systemd is served by worker 0 alone: one fd is never shared between threads
        if (lp.fd !== undefined && this.worker !== 0) return;
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
          errors.push({ listener: lp.name, code: 'E_PLAN', message });
          return;
        }
        if (pool === undefined) return;
        const same =
          lp.fd !== undefined
            ? cur?.plan.fd === lp.fd
            : cur?.plan.bind.host === lp.bind.host &&
              cur.plan.bind.port === lp.bind.port &&
              cur.plan.backlog === lp.backlog;
        if (cur && same) {
          cur.plan = lp;
          cur.pool = pool;
          cur.edge = edge;
          return;
        }
        try {
          const server = await this.listen(lp);
          // a moved bind: the old socket stops accepting once the new one is up
          cur?.server.close();
          this.listeners.set(lp.name, { plan: lp, server, pool, edge });
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
      const where =
        lp.fd !== undefined
          ? { fd: lp.fd }
          : { host: lp.bind.host, port: lp.bind.port, backlog: lp.backlog, reusePort: true };
      server.listen(where, () => {
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
    if (!this.table.listeners.enabled(slot)) {
      this.table.listeners.countRejected(this.worker, slot, 'disabled');
      socket.destroy();
      return;
    }
    if (rt.edge !== null) {
      this.onEdgeConnection(rt, rt.edge, socket);
      return;
    }
    if (!this.acquire(slot)) {
      this.table.listeners.countRejected(this.worker, slot, 'max_connections');
      socket.destroy();
      return;
    }
    const c = new Connection(this, slot, rt.pool, socket, clientAddress(socket.remoteAddress).text);
    this.connections.add(c);
    c.start();
  }

  /**
   * Take a connection slot on the listener, within the global max_connections.
   * Node cannot stop polling a listening socket without closing it (closing a
   * SO_REUSEPORT socket resets the connections in its queue), so a full
   * listener accepts and closes at once, counted: nothing piles up in memory.
   */
  private acquire(slot: number): boolean {
    if (this.maxConnections > 0) {
      let open = 0;
      for (const l of this.plan.listeners) open += this.table.listeners.active(l.slot);
      if (open >= this.maxConnections) return false;
    }
    if (!this.table.listeners.acquire(this.worker, slot)) return false;
    this.table.workers.connectionOpened(this.worker);
    return true;
  }

  /**
   * Access control, then the source's limits. Returns why the client is
   * refused, or null; on null, `this.admitted` holds the shared source entry
   * now counting this connection (-1 when the listener has no limits).
   */
  private admitClient(edge: ListenerEdge, client: ClientAddress): RejectReason | null {
    this.admitted = -1;
    const sources = edge.sources;
    if (edge.acl !== null && edge.acl.check(client.ip) === 'deny') {
      sources?.reject(client.ip);
      return 'acl';
    }
    if (!edge.limited) return null;
    const verdict = sources!.admit(client.ip);
    if (verdict !== 'ok') return verdict;
    this.admitted = sources!.entry;
    return null;
  }

  private onEdgeConnection(rt: ListenerRuntime, edge: ListenerEdge, socket: net.Socket): void {
    const slot = rt.plan.slot;
    const peer = clientAddress(socket.remoteAddress);
    let reason: RejectReason | null;
    if (edge.trusted !== null) {
      // a PROXY listener hears only from its proxies; the client behind is checked once its header is read
      reason = edge.trusted.has(peer.ip) ? null : 'proxy_header';
      this.admitted = -1;
    } else {
      reason = this.admitClient(edge, peer);
    }
    if (reason !== null) {
      this.table.listeners.countRejected(this.worker, slot, reason);
      socket.destroy();
      return;
    }
    const entry = this.admitted;
    if (!this.acquire(slot)) {
      if (entry >= 0) edge.sources!.release(entry);
      this.table.listeners.countRejected(this.worker, slot, 'max_connections');
      socket.destroy();
      return;
    }
    if (!edge.preamble) {
      this.startConnection(rt, edge, socket, peer, entry, null);
      return;
    }
    this.preambles++;
    void readPreamble(edge, socket, peer).then((p) => {
      this.preambles--;
      this.afterPreamble(rt, edge, socket, entry, p);
    });
  }

  private afterPreamble(rt: ListenerRuntime, edge: ListenerEdge, socket: net.Socket, entry: number, p: Preamble): void {
    const slot = rt.plan.slot;
    let reason: RejectReason | null = null;
    if (!p.ok) {
      if (p.reason === 'proxy_header') {
        reason = 'proxy_header';
        log.debug('PROXY header rejected', {
          listener: rt.plan.name,
          client: clientAddress(socket.remoteAddress).text,
          reason: p.detail,
        });
      }
    } else if (this.stopping) {
      reason = null;
    } else if (edge.trusted !== null) {
      reason = this.admitClient(edge, p.client);
      entry = this.admitted;
    }
    if (!p.ok || reason !== null || this.stopping || socket.destroyed) {
      if (reason !== null) this.table.listeners.countRejected(this.worker, slot, reason);
      if (entry >= 0) edge.sources!.release(entry);
      socket.destroy();
      this.abandon(slot);
      return;
    }
    if (p.peek !== null) this.table.listeners.countProtocol(this.worker, slot, p.peek.protocol ?? 'unknown');
    this.startConnection(rt, edge, socket, p.client, entry, p);
  }

  /** Give back what acquire() took for a connection that never became a relay. */
  private abandon(slot: number): void {
    this.table.workers.connectionClosed(this.worker);
    this.table.listeners.release(this.worker, slot);
    if (this.stopping && this.connections.size === 0 && this.preambles === 0) this.post({ type: 'drained' });
  }

  private startConnection(
    rt: ListenerRuntime,
    edge: ListenerEdge,
    socket: net.Socket,
    client: ClientAddress,
    entry: number,
    p: Preamble | null,
  ): void {
    let pool = rt.pool;
    if (p !== null && p.ok && p.peek !== null && edge.router !== null) {
      pool = this.pools.get(edge.router.pool(p.peek, rt.plan.pool)) ?? pool;
    }
    const c = new Connection(this, rt.plan.slot, pool, socket, client.text);
    if (entry >= 0) {
      c.source = entry;
      c.sourceLimiter = edge.sources;
    }
    if (p !== null && p.ok) {
      c.origin = p.origin;
      c.setInitialBytes(p.data);
      if (p.ended) c.markClientEnded();
    }
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
    if (c.source >= 0) c.sourceLimiter!.release(c.source);
    // the listener slot was taken at accept, before the relay existed
    this.abandon(c.listenerSlot);
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
      error: r.error,
      attempts: r.attempts,
      worker: this.worker,
    });
  }

  // ---- lifecycle ----
  stop(): void {
    this.stopping = true;
    for (const rt of this.listeners.values()) rt.server.close();
    this.listeners.clear();
    if (this.connections.size === 0 && this.preambles === 0) this.post({ type: 'drained' });
  }

  post(m: FromWorker): void {
    parentPort!.postMessage(m);
  }

  startHeartbeat(): void {
    const lag = monitorEventLoopDelay({ resolution: 20 });
    lag.enable();
    const beat = (): void => {
      const cpu = process.threadCpuUsage?.() ?? { user: 0, system: 0 };
      this.table.workers.beat(this.worker, Date.now(), lag.mean / 1e6 || 0, cpu.user / 1e6, cpu.system / 1e6);
      lag.reset();
    };
    beat();
    setInterval(beat, HEARTBEAT_MS).unref();
  }

  get currentPlan(): WorkerPlan {
    return this.plan;
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

const init = workerData as WorkerInit;
const w = new Worker(init);
w.table.workers.countStart(init.id);
w.startHeartbeat();
// a plan that throws while applied is reported, not left to kill the thread silently
const apply = (plan: WorkerPlan): void => {
  w.apply(plan).catch((err: unknown) => {
    const message = `cannot apply the plan: ${err instanceof Error ? err.message : String(err)}`;
    log.error('plan not applied', { generation: plan.generation, err: message });
    w.post({ type: 'applied', generation: plan.generation, errors: [{ listener: '*', code: 'E_PLAN', message }] });
  });
};
parentPort!.on('message', (m: ToWorker) => {
  if (m.type === 'plan') apply(m.plan);
  else if (m.type === 'stop') w.stop();
});
apply(init.plan);
log.debug('worker started', { worker: init.id, threadId });
