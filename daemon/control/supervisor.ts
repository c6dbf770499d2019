// Starts the data-plane worker threads, hands them each config generation, and
// restarts one that dies while the others keep serving.
import { Worker } from 'node:worker_threads';
import { log } from '../log.js';
import type { Table } from '../state/table.js';
import type { FromWorker, ToWorker, WorkerInit, WorkerPlan } from '../data/plan.js';

const WORKER_URL = new URL('../data/worker.js', import.meta.url);
const RESTART_BACKOFF_MS = [100, 250, 500, 1000, 2000, 5000];
/** a worker that stayed up this long is healthy again: its backoff starts over */
const STABLE_MS = 30_000;

export type ListenErrors = { listener: string; code: string; message: string }[];

interface Slot {
  id: number;
  thread: Worker | null;
  startedAt: number;
  crashes: number;
  alive: boolean;
  restarts: number;
  applied: number;
  drained: boolean;
  waiters: { generation: number; resolve: (errors: ListenErrors) => void }[];
}

export interface SupervisorEvents {
  onPassive(slot: number): void;
  onWorker(id: number, what: 'started' | 'exited' | 'restarted', detail: string): void;
  /**
   * The worker serving sockets passed by systemd died: those fds closed with it
   * and cannot be reopened (their numbers may already be reused), so it is not
   * restarted; the daemon stops and systemd restarts it with the sockets again.
   */
  onActivatedLost?(worker: number): void;
}

export class Supervisor {
  private readonly slots: Slot[] = [];
  private plan: WorkerPlan;
  private stopping = false;
  private drainWaiters: (() => void)[] = [];

  constructor(
    private readonly table: Table,
    private readonly count: number,
    plan: WorkerPlan,
    private readonly events: SupervisorEvents,
  ) {
    this.plan = plan;
  }

  /** Start every worker; resolves with the listen errors of the first plan (all workers). */
  async start(): Promise<ListenErrors> {
    const results: Promise<ListenErrors>[] = [];
    for (let id = 0; id < this.count; id++) {
      const s: Slot = {
        id,
        thread: null,
        startedAt: 0,
        crashes: 0,
        alive: false,
        restarts: 0,
        applied: -1,
        drained: false,
        waiters: [],
      };
      this.slots.push(s);
      results.push(this.waitApplied(s, this.plan.generation));
      this.spawn(s);
    }
    return dedupe((await Promise.all(results)).flat());
  }

  private spawn(s: Slot): void {
    const init: WorkerInit = { id: s.id, buffer: this.table.buffer, cap: this.table.cap, plan: this.plan };
    const t = new Worker(WORKER_URL, { workerData: init, name: `netmon-worker-${s.id}` });
    s.thread = t;
    s.startedAt = Date.now();
    s.alive = true;
    t.on('message', (m: FromWorker) => this.onMessage(s, m));
    t.on('error', (err) => log.error('worker error', { worker: s.id, err }));
    t.on('exit', (code) => this.onExit(s, t, code));
  }

  private onMessage(s: Slot, m: FromWorker): void {
    switch (m.type) {
      case 'applied': {
        s.applied = m.generation;
        const ready = s.waiters.filter((w) => w.generation <= m.generation);
        s.waiters = s.waiters.filter((w) => w.generation > m.generation);
        for (const w of ready) w.resolve(m.errors);
        break;
      }
      case 'passive':
        this.events.onPassive(m.slot);
        break;
      case 'drained':
        s.drained = true;
        this.checkDrained();
        break;
    }
  }

  private onExit(s: Slot, t: Worker, code: number): void {
    if (s.thread !== t) return;
    s.alive = false;
    s.thread = null;
    // its connections died with it: give back the slots they held
    this.table.releaseWorker(s.id);
    // a worker that died before confirming a plan did not apply it: say so, never report success
    for (const w of s.waiters) {
      const message = `worker ${s.id} exited (code ${code}) before applying generation ${w.generation}`;
      w.resolve(this.stopping ? [] : [{ listener: '*', code: 'E_PLAN', message }]);
    }
    s.waiters = [];
    if (this.stopping) {
      this.checkDrained();
      return;
    }
    if (s.id === 0 && this.plan.listeners.some((l) => l.fd !== undefined)) {
      log.error('the worker serving systemd-passed sockets exited; they cannot be reopened', { worker: s.id, code });
      this.events.onWorker(s.id, 'exited', `exit code ${code}; socket-activated listeners lost`);
      this.events.onActivatedLost?.(s.id);
      return;
    }
    if (Date.now() - s.startedAt > STABLE_MS) s.crashes = 0;
    const delay = RESTART_BACKOFF_MS[Math.min(s.crashes, RESTART_BACKOFF_MS.length - 1)]!;
    s.crashes++;
    log.warn('worker exited; restarting', { worker: s.id, code, restart_in_ms: delay });
    this.events.onWorker(s.id, 'exited', `exit code ${code}`);
    setTimeout(() => {
      if (this.stopping) return;
      s.restarts++;
      this.spawn(s);
      this.events.onWorker(s.id, 'restarted', `restart ${s.restarts}`);
    }, delay).unref();
  }

  /** Send a new generation to every worker; resolves when all have applied it. */
  async apply(plan: WorkerPlan, timeoutMs = 10_000): Promise<ListenErrors> {
    this.plan = plan;
    const waits = this.slots.map((s) => {
      if (!s.alive || !s.thread) return Promise.resolve<ListenErrors>([]); // a restart picks up the new plan
      const p = this.waitApplied(s, plan.generation);
      this.send(s, { type: 'plan', plan });
      return p;
    });
    const timeout = new Promise<ListenErrors>((resolve) =>
      setTimeout(
        () => resolve([{ listener: '*', code: 'E_INTERNAL', message: 'workers did not confirm the reload in time' }]),
        timeoutMs,
      ).unref(),
    );
    return dedupe((await Promise.race([Promise.all(waits), timeout.then((e) => [e])])).flat());
  }

  private waitApplied(s: Slot, generation: number): Promise<ListenErrors> {
    return new Promise((resolve) => s.waiters.push({ generation, resolve }));
  }

  private send(s: Slot, m: ToWorker): void {
    s.thread?.postMessage(m);
  }

  /** Graceful stop: workers close their listeners and let connections finish. */
  stop(graceMs: number): Promise<void> {
    this.stopping = true;
    for (const s of this.slots) this.send(s, { type: 'stop', graceMs });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        void this.terminate().then(resolve);
      }, graceMs);
      timer.unref();
      this.drainWaiters.push(() => {
        clearTimeout(timer);
        void this.terminate().then(resolve);
      });
      this.checkDrained();
    });
  }

  private checkDrained(): void {
    if (this.stopping && this.slots.every((s) => !s.alive || s.drained)) {
      const ws = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of ws) w();
    }
  }

  /** Immediate stop: cut every connection. */
  async terminate(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.slots.map((s) => s.thread?.terminate()));
  }

  /** Ends one worker abruptly, as a crash would (control: `debug kill-worker`). */
  async kill(id: number): Promise<boolean> {
    const s = this.slots[id];
    if (!s?.thread) return false;
    await s.thread.terminate();
    return true;
  }

  info(): { id: number; threadId: number; alive: boolean; restarts: number }[] {
    return this.slots.map((s) => ({
      id: s.id,
      threadId: s.thread?.threadId ?? -1,
      alive: s.alive,
      restarts: s.restarts,
    }));
  }
}

function dedupe(errors: ListenErrors): ListenErrors {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const k = `${e.listener}|${e.code}|${e.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
