// Starts the data-plane worker threads, hands them each config generation, and
// restarts one that dies while the others keep serving.
import { Worker } from 'node:worker_threads';
import { log } from '../log.js';
import { NetmonError } from '../errors.js';
import type { Reclaimed, Table } from '../state/table.js';
import type { FromWorker, InjectedFault, ListenFailure, ToWorker, WorkerInit, WorkerPlan } from '../data/plan.js';

const WORKER_URL = new URL('../data/worker.js', import.meta.url);
const RESTART_BACKOFF_MS = [100, 250, 500, 1000, 2000, 5000];
/** a worker that stayed up this long is healthy again: its backoff starts over */
const STABLE_MS = 30_000;
/** how long an immediate stop waits for workers to cut their connections before ending the threads */
const CUT_MS = 1000;
/**
 * MB of a worker's V8 young generation (three times a semi-space). V8 sizes it
 * from the machine's memory, up to 64 MB semi-spaces: after a burst of short
 * connections the pages of a worker's new space stayed resident; with 8 MB
 * semi-spaces the burst's memory comes back (docs/reliability.md, Soak).
 */
const YOUNG_GENERATION_MB = 24;

/** A listener some worker could not open; `workers` says how many. */
interface ListenError extends ListenFailure {
  workers: number;
}
export type ListenErrors = ListenError[];

/** Why a stop cut the connections still open: drain_timeout expired, a second stop signal, or an immediate stop asked for. */
export type CutCause = 'drain_timeout' | 'second_signal' | 'immediate_stop';

interface Slot {
  id: number;
  thread: Worker | null;
  startedAt: number;
  crashes: number;
  alive: boolean;
  restarts: number;
  applied: number;
  drained: boolean;
  /** listeners this worker reported open in its last `applied` */
  listening: readonly string[];
  waiters: { generation: number; resolve: (failures: ListenFailure[]) => void }[];
}

/** The plan a restarted worker starts with, given the listeners live workers serve, and one line per listener left out. */
export type RestartPlan = (
  plan: WorkerPlan,
  open: ReadonlySet<string>,
) => Promise<{ plan: WorkerPlan; refused: string[] }>;

export interface SupervisorEvents {
  onPassive(slot: number): void;
  onWorker(id: number, what: 'started' | 'exited' | 'restarted', detail: string): void;
  /**
   * The worker serving sockets passed by systemd died: those fds closed with it
   * and cannot be reopened (their numbers may already be reused), so it is not
   * restarted; the daemon stops and systemd restarts it with the sockets again.
   */
  onActivatedLost?(worker: number): void;
  /**
   * Before a worker restarts: the plan it starts with, given the listeners the
   * live workers serve (`open`), and what it leaves out and why (one line each).
   * A listener whose every worker died is checked again here
   * (restart-check.ts): another program may hold its port by now.
   */
  restartPlan?: RestartPlan;
}

export class Supervisor {
  private readonly slots: Slot[] = [];
  /** the generation every worker serves, and a restarted worker starts with */
  private plan: WorkerPlan | null = null;
  private stopping = false;
  private drainWaiters: (() => void)[] = [];
  /** the immediate stop under way: a second call waits for it rather than count its cut again */
  private cutting: Promise<void> | null = null;

  constructor(
    private readonly table: Table,
    private readonly count: number,
    private readonly events: SupervisorEvents,
  ) {}

  /** Start every worker with `plan`; resolves with the listen errors of it (all workers). */
  async start(plan: WorkerPlan): Promise<ListenErrors> {
    this.plan = plan;
    const results: Promise<ListenFailure[]>[] = [];
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
        listening: [],
        waiters: [],
      };
      this.slots.push(s);
      results.push(this.waitApplied(s, plan.generation));
      this.spawn(s, plan);
    }
    return merge(await Promise.all(results));
  }

  private spawn(s: Slot, plan: WorkerPlan): void {
    const init: WorkerInit = { id: s.id, buffer: this.table.buffer, cap: this.table.cap, plan };
    const t = new Worker(WORKER_URL, {
      workerData: init,
      name: `netmon-worker-${s.id}`,
      resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
    });
    s.thread = t;
    s.startedAt = Date.now();
    s.alive = true;
    // a new thread holds connections of its own: an immediate stop must reach it
    s.drained = false;
    t.on('message', (m: FromWorker) => this.onMessage(s, m));
    t.on('error', (err) => log.error('worker error', { worker: s.id, err }));
    t.on('exit', (code) => this.onExit(s, t, code));
  }

  private onMessage(s: Slot, m: FromWorker): void {
    switch (m.type) {
      case 'applied': {
        s.applied = m.generation;
        s.listening = m.listening;
        const ready = s.waiters.filter((w) => w.generation <= m.generation);
        s.waiters = s.waiters.filter((w) => w.generation > m.generation);
        for (const w of ready) w.resolve(m.failures);
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
    s.listening = [];
    // a worker that closed its connections holds nothing; one that died gives back what they held
    const reclaimed = this.table.releaseWorker(s.id);
    if (held(reclaimed))
      log.warn('worker exited holding connection reservations; given back', { worker: s.id, ...reclaimed });
    // a worker that died before confirming a plan did not apply it: say so, never report success
    for (const w of s.waiters) {
      const message = `worker ${s.id} exited (code ${code}) before applying generation ${w.generation}`;
      w.resolve(this.stopping ? [] : [{ listener: '*', code: 'E_PLAN', message, serving: null }]);
    }
    s.waiters = [];
    if (this.stopping) {
      this.checkDrained();
      return;
    }
    if (s.id === 0 && this.plan!.listeners.some((l) => l.fd !== undefined)) {
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
    setTimeout(() => void this.restart(s), delay).unref();
  }

  private async restart(s: Slot): Promise<void> {
    if (this.stopping) return;
    let plan = this.plan!;
    let refused: string[] = [];
    if (this.events.restartPlan) {
      const open = this.openListeners();
      try {
        ({ plan, refused } = await this.events.restartPlan(plan, open));
      } catch (err) {
        // fail closed: what could not be checked is not reopened (a reload checks it again)
        log.error('worker restart: the listener check failed; listeners no worker serves stay closed', { err });
        const keep = plan.listeners.filter((l) => open.has(l.name) || l.fd !== undefined);
        refused = plan.listeners.filter((l) => !keep.includes(l)).map((l) => `listener ${l.name}: not checked`);
        plan = { ...plan, listeners: keep };
      }
      // a generation applied meanwhile went through its own checks: the worker starts with it
      if (this.plan !== null && this.plan.generation !== plan.generation) plan = this.plan;
      if (this.stopping || s.alive) return;
    }
    s.restarts++;
    this.spawn(s, plan);
    const not = refused.length > 0 ? `; not reopened: ${refused.join('; ')}` : '';
    this.events.onWorker(s.id, 'restarted', `restart ${s.restarts}${not}`);
  }

  /** Send a new generation to every worker; resolves when all have applied it. */
  /**
   * Send a new generation to every worker; resolves when all have applied it,
   * with the listeners some worker could not open. Rejects with E_INTERNAL
   * when the workers do not answer within `timeoutMs`.
   */
  async apply(plan: WorkerPlan, timeoutMs = 10_000): Promise<ListenErrors> {
    this.plan = plan;
    const waits = this.slots.map((s) => {
      if (!s.alive || !s.thread) return Promise.resolve<ListenFailure[]>([]); // a restart picks up the new plan
      const p = this.waitApplied(s, plan.generation);
      this.send(s, { type: 'plan', plan });
      return p;
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new NetmonError('E_INTERNAL', 'workers did not confirm the new config in time')),
        timeoutMs,
      );
      timer.unref();
    });
    try {
      return merge(await Promise.race([Promise.all(waits), timeout]));
    } finally {
      clearTimeout(timer);
    }
  }

  private waitApplied(s: Slot, generation: number): Promise<ListenFailure[]> {
    return new Promise((resolve) => s.waiters.push({ generation, resolve }));
  }

  private send(s: Slot, m: ToWorker): void {
    s.thread?.postMessage(m);
  }

  /**
   * Graceful stop: workers close their listeners and let connections finish;
   * after `graceMs` the rest are cut (an immediate stop).
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    for (const s of this.slots) {
      this.send(s, { type: 'stop', immediate: false });
      // a stopping worker closes every listener at once
      s.listening = [];
    }
    await this.drained(graceMs);
    await this.terminate('drain_timeout');
  }

  /**
   * Immediate stop: every worker cuts its connections through their close
   * path (each gives back what it holds and writes its access line, with
   * termination shutdown), then the threads end; one warning says how many
   * were cut, per worker (counted in netmon_stop_resets_total). A worker that
   * does not answer within CUT_MS is ended anyway (what it held is given back
   * from its stripes).
   */
  terminate(cause: CutCause = 'immediate_stop'): Promise<void> {
    this.cutting ??= this.cut(cause);
    return this.cutting;
  }

  private async cut(cause: CutCause): Promise<void> {
    this.stopping = true;
    const before = this.slots.map((s) => this.table.workers.stats(s.id).stopCut);
    for (const s of this.slots) if (!s.drained) this.send(s, { type: 'stop', immediate: true });
    await this.drained(CUT_MS);
    // each worker counts what it cuts before it cuts it, and says it is drained once its access lines are written
    const perWorker: Record<string, number> = {};
    let cut = 0;
    for (const [i, s] of this.slots.entries()) {
      const n = this.table.workers.stats(s.id).stopCut - before[i]!;
      if (n > 0) perWorker[String(s.id)] = n;
      cut += n;
    }
    const unanswered = this.slots.filter((s) => s.alive && !s.drained).map((s) => s.id);
    if (cut > 0 || unanswered.length > 0)
      log.warn(`stopping: ${cut} open connection(s) cut with a reset`, {
        cause,
        connections: cut,
        workers: perWorker,
        // ended without confirming within CUT_MS: what they still held ends with the thread, its lines unwritten
        ...(unanswered.length > 0 ? { unanswered } : {}),
      });
    await Promise.all(this.slots.map((s) => s.thread?.terminate()));
  }

  /** Resolves when every live worker has said it holds no connection, or after `ms`. */
  private drained(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      this.drainWaiters.push(() => {
        clearTimeout(timer);
        resolve();
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

  /**
   * Crash one worker, as an exception outside any connection would: it resets
   * its connections and exits, and is restarted. One that does not exit within
   * CUT_MS (stuck) is ended by force. Resolves once it has exited.
   */
  async kill(id: number): Promise<boolean> {
    const s = this.slots[id];
    const t = s?.thread;
    if (!t) return false;
    const exited = new Promise<void>((resolve) => t.once('exit', () => resolve()));
    t.postMessage({ type: 'crash' } satisfies ToWorker);
    const timer = setTimeout(() => void t.terminate(), CUT_MS);
    await exited;
    clearTimeout(timer);
    return true;
  }

  /** Test hook: block worker `id`'s event loop for `ms`. False when it is not running. */
  stall(id: number, ms: number): boolean {
    const t = this.slots[id]?.thread;
    if (!t) return false;
    t.postMessage({ type: 'stall', ms } satisfies ToWorker);
    return true;
  }

  /** Test hook: arm (`at`) or disarm (null) a fault on a listener's connections in every worker. */
  injectFault(listener: string, at: InjectedFault | null): void {
    for (const s of this.slots) this.send(s, { type: 'fault', listener, at });
  }

  /** Listener names with an open socket in at least one live worker. */
  openListeners(): Set<string> {
    const open = new Set<string>();
    for (const s of this.slots) if (s.alive) for (const name of s.listening) open.add(name);
    return open;
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

/** One entry per listener and error, with how many workers reported it. */
function merge(perWorker: ListenFailure[][]): ListenErrors {
  const byKey = new Map<string, ListenError>();
  for (const failures of perWorker) {
    for (const f of failures) {
      const k = `${f.listener}|${f.code}|${f.message}`;
      const e = byKey.get(k);
      if (e) e.workers++;
      else byKey.set(k, { ...f, workers: 1 });
    }
  }
  return [...byKey.values()];
}

function held(r: Reclaimed): boolean {
  return r.backends !== 0 || r.listeners !== 0 || r.queued !== 0 || r.sources !== 0 || r.connections !== 0;
}
