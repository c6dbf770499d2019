// The listening sockets of one worker thread, one per listener: its own
// SO_REUSEPORT socket (the kernel spreads accepts across workers), or the
// socket systemd passed, which worker 0 alone serves. Opened, moved or closed
// as each config generation asks (fail closed: a listener whose plan cannot be
// applied is not served), accepting on Node or in the native relay
// (native/worker-relay.ts); closed and reopened while the worker is short of
// file descriptors (fd-guard.ts). worker.ts serves what they accept.
import net from 'node:net';
import type { Table } from '../state/table.js';
import { log } from '../log.js';
import { acceptQueue, isFdExhaustion } from '../process-fds.js';
import { ListenerEdge } from './edge/listener-edge.js';
import type { ListenerPlan, ListenFailure, WorkerPlan } from './plan.js';
import type { PoolRuntime } from './pool-queue.js';
import type { ListenerRuntime, ListeningSocket } from './worker-context.js';
import type { WorkerRelay } from './native/worker-relay.js';
import type { Listening } from './fd-guard.js';

/** What the worker does with a Node listener's events. */
export interface ListenerEvents {
  /** Node accepted `socket` on listener `name` (paused: pauseOnConnect). */
  connection(name: string, socket: net.Socket): void;
  /** An accept failed for want of a file descriptor (EMFILE/ENFILE). */
  outOfFds(err: NodeJS.ErrnoException): void;
}

/** a listener's socket before it is opened */
const CLOSED: ListeningSocket = { listening: false, close: () => 0 };

/** A Node server as a ListeningSocket: its close says how many clients its accept queue held. */
function nodeListening(server: net.Server): ListeningSocket {
  return {
    get listening() {
      return server.listening;
    },
    close: () => {
      // net.Server has no public accessor for its descriptor; its handle (libuv's TCP) has one on Unix
      const fd = (server as unknown as { _handle?: { fd?: number } | null })._handle?.fd ?? -1;
      const queued = server.listening ? acceptQueue(fd) : 0;
      server.close();
      return queued;
    },
  };
}

/** Close `rt`'s socket: the clients the kernel reset from its accept queue (0 for systemd's, which stays open). */
function closeListening(rt: ListenerRuntime): number {
  const queued = rt.server.close();
  return rt.plan.fd !== undefined ? 0 : Math.max(0, queued);
}

export class WorkerListeners implements Listening {
  private readonly byName = new Map<string, ListenerRuntime>();
  /** closed for good (the worker stops): nothing is reopened */
  private closed = false;

  constructor(
    private readonly table: Table,
    private readonly worker: number,
    private readonly native: WorkerRelay,
    private readonly events: ListenerEvents,
  ) {}

  /** The listener named `name`, while this worker has it. */
  get(name: string): ListenerRuntime | undefined {
    return this.byName.get(name);
  }

  /** The fd guard's ceiling for the native relay's accepts (fd-guard.ts, Listening). */
  ceiling(fds: number): void {
    this.native.fdCeiling(fds);
  }

  /** every listener this worker has */
  runtimes(): IterableIterator<ListenerRuntime> {
    return this.byName.values();
  }

  /** names of the listeners this worker has a socket open for */
  get names(): string[] {
    return [...this.byName.keys()];
  }

  /**
   * Open, move or close the listeners as `plan` asks, each served with its
   * pool from `pools` (this generation's, by slot). Resolves with what could
   * not be served: E_PLAN (the plan cannot be applied here), E_LISTEN (a bind failed).
   */
  async apply(plan: WorkerPlan, pools: ReadonlyMap<number, PoolRuntime>): Promise<ListenFailure[]> {
    const poolSlot = (name: string): number => plan.pools.find((p) => p.name === name)?.slot ?? -1;
    const failures: ListenFailure[] = [];
    const wanted = new Set(plan.listeners.map((l) => l.name));
    for (const [name, rt] of this.byName) {
      if (!wanted.has(name)) {
        this.closeForReload(rt, 'removed by the new config');
        this.byName.delete(name);
      }
    }
    await Promise.all(
      plan.listeners.map(async (lp) => {
        // a socket passed by systemd is served by worker 0 alone: one fd is never shared between threads
        if (lp.fd !== undefined && this.worker !== 0) return;
        const cur = this.byName.get(lp.name);
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
          if (cur) this.closeForReload(cur, 'its plan cannot be applied');
          this.byName.delete(lp.name);
          const message = `cannot apply the plan: ${(err as Error).message}`;
          log.error('listener not served', { listener: lp.name, err: message });
          failures.push({ listener: lp.name, code: 'E_PLAN', message, serving: null });
          return;
        }
        if (pool === undefined) return;
        const refusal = this.native.refusal;
        if (refusal !== null) {
          // fail closed: the config asks for the native relay, which cannot run here
          if (cur) this.closeForReload(cur, 'the native relay cannot run');
          this.byName.delete(lp.name);
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
          rt.server = accept === 'native' ? this.native.listen(rt) : nodeListening(await this.listenNode(lp));
          // a moved bind: the old socket stops accepting once the new one is up
          if (cur) this.closeForReload(cur, 'moved (bind, backlog or who accepts)');
          this.byName.set(lp.name, rt);
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
    return failures;
  }

  private listenNode(lp: ListenerPlan): Promise<net.Server> {
    return new Promise((resolve, reject) => {
      const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true, noDelay: true });
      server.on('connection', (socket) => this.events.connection(lp.name, socket));
      server.once('error', reject);
      const where =
        lp.fd !== undefined
          ? { fd: lp.fd }
          : { host: lp.bind.host, port: lp.bind.port, backlog: lp.backlog, reusePort: true };
      server.listen(where, () => {
        server.removeListener('error', reject);
        server.on('error', (err) => {
          // at the descriptor limit, when libuv cannot keep its spare one
          if (isFdExhaustion(err)) this.events.outOfFds(err);
          else log.error('listener error', { listener: lp.name, err });
        });
        resolve(server);
      });
    });
  }

  /**
   * A reload closed `rt`'s socket: the clients in its accept queue were reset
   * by the kernel (no reject reason fits them: logged, not counted).
   */
  private closeForReload(rt: ListenerRuntime, why: string): void {
    const reset = closeListening(rt);
    if (reset > 0)
      log.warn('listener closed: clients waiting in its accept queue were reset', {
        listener: rt.plan.name,
        worker: this.worker,
        clients: reset,
        why,
      });
  }

  /**
   * Close every listening socket this worker can reopen (not systemd's), the
   * native relay's as Node's (native/worker-relay.ts says why); returns the
   * listeners' names and how many clients were waiting in their accept queues,
   * which the kernel reset: each is counted as refused (fd_exhaustion) on its
   * listener.
   */
  pause(): { listeners: string[]; reset: number } {
    const listeners: string[] = [];
    let reset = 0;
    for (const [name, rt] of this.byName) {
      if (rt.plan.fd !== undefined || !rt.server.listening) continue;
      const n = closeListening(rt);
      if (n > 0) this.table.listeners.countRejected(this.worker, rt.plan.slot, 'fd_exhaustion', n);
      reset += n;
      listeners.push(name);
    }
    return { listeners, reset };
  }

  /** Reopen the listeners pause() closed; resolves with those that failed to bind. */
  async resume(): Promise<string[]> {
    const failed: string[] = [];
    for (const [name, rt] of this.byName) {
      if (rt.plan.fd !== undefined || rt.server.listening || this.closed) continue;
      try {
        rt.server = rt.accept === 'native' ? this.native.listen(rt) : nodeListening(await this.listenNode(rt.plan));
      } catch (err) {
        failed.push(name);
        log.debug('listener not reopened yet', { listener: name, err });
      }
    }
    return failed;
  }

  /**
   * Close every listening socket for good (the worker stops). Returns how many
   * clients were waiting in their accept queues: the kernel reset them.
   */
  closeAll(): number {
    this.closed = true;
    let reset = 0;
    for (const rt of this.byName.values()) reset += closeListening(rt);
    this.byName.clear();
    return reset;
  }
}
