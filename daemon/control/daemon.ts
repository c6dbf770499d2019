// The control plane: owns the table and the topology, supervises the workers,
// runs health checks, applies reloads and run-time changes, and answers the
// control socket. It never proxies a byte.
import os from 'node:os';
import { Table, AdminState, Cause, type TableCapacity } from '../state/table.js';
import { Topology } from './topology/topology.js';
import { Supervisor } from './supervisor.js';
import { EventLog } from './events.js';
import { RateTracker, CounterRates } from './rates.js';
import { ProcessStats } from './process-stats.js';
import { buildSnapshot } from './snapshot/builder.js';
import { HealthService } from './health/service.js';
import { AdaptiveService } from './adaptive/service.js';
import { log, setLogLevel } from '../log.js';
import { NetmonError, ConfigErrors } from '../errors.js';
import { ALGORITHMS, type AlgorithmName, type Config } from '../config/schema.js';
import { algorithmId } from '../data/balance/index.js';
import type {
  AdminStateName,
  AlertSnapshot,
  DaemonEvent,
  InfoSnapshot,
  Snapshot,
  WorkerSnapshot,
} from './snapshot/snapshot.js';
import type { ClientStats, ControlContext, ReloadResult } from './socket/context.js';
import { VERSION } from '../version.js';
import type { WorkerPlan } from '../data/plan.js';
import { readClients, SourceWatch, type SourceListener } from './sources/source-clients.js';
import { sourceQuota, sourceTableEntries } from '../data/edge/source-limits.js';

export interface DaemonOptions {
  /** re-read on reload; null = the embedded default (reload re-applies it) */
  configPath: string | null;
  /** loads and validates the config (throws ConfigErrors) */
  load: () => Config;
  /** listener name -> listening fd passed by systemd (socket activation) */
  activated?: ReadonlyMap<string, number>;
  now?: () => number;
}

const TICK_MS = 1000;

export class Daemon implements ControlContext {
  readonly table: Table;
  readonly topology: Topology;
  readonly eventLog = new EventLog();
  private readonly supervisor: Supervisor;
  private readonly health: HealthService;
  private readonly backendRates: RateTracker;
  private readonly counterRates = new CounterRates();
  private readonly processStats = new ProcessStats();
  private readonly now: () => number;
  private tick: NodeJS.Timeout | null = null;
  private reloading: Promise<ReloadResult> | null = null;
  private readonly fatalHooks: ((reason: string) => void)[] = [];
  private readonly reloadWatchers: { start(): void; end(r: ReloadResult): void }[] = [];
  private lastReload: InfoSnapshot['lastReload'] = null;
  private alertSource: () => AlertSnapshot[] = () => [];
  private readonly tickHooks: ((now: number) => void)[] = [];
  private readonly sourceWatch: SourceWatch;

  constructor(
    private config: Config,
    private readonly opts: DaemonOptions,
  ) {
    this.now = opts.now ?? Date.now;
    setLogLevel(config.log.level);
    const cap: TableCapacity = {
      workers: config.workers,
      listeners: config.limits.maxListeners,
      pools: config.limits.maxPools,
      backends: config.limits.maxBackends,
      // per-source limits are shared by all workers; sized now from the listeners' table_size
      sources: sourceTableEntries(config),
    };
    this.table = new Table(cap);
    this.topology = new Topology(this.table);
    this.backendRates = new RateTracker(this.table);
    for (const [name, fd] of opts.activated ?? []) this.topology.activated.set(name, fd);
    this.topology.apply(config, this.now());
    this.health = new HealthService(this.table, (e) => this.onStateEvent(e));
    const adaptive = new AdaptiveService(this.table, this.topology, this.eventLog);
    this.tickHooks.push((now) => adaptive.tick(now));
    this.sourceWatch = new SourceWatch(this.table);
    this.tickHooks.push((now) => this.sourceWatch.tick(this.sourceListeners(), now));
    this.supervisor = new Supervisor(this.table, config.workers, this.workerPlan(), {
      onPassive: (slot) => this.health.reportConnectFailures(slot),
      onWorker: (worker, what, detail) =>
        this.eventLog.push({ type: 'worker', time: this.now(), worker, what, detail }),
      onActivatedLost: () => {
        for (const fn of this.fatalHooks) fn('the worker serving socket-activated listeners exited');
      },
    });
  }

  /** Opens every listener in every worker; throws if any cannot be opened. */
  async start(): Promise<void> {
    const errors = await this.supervisor.start();
    if (errors.length > 0) {
      await this.supervisor.terminate();
      throw new NetmonError('E_INTERNAL', errors.map((e) => `listener ${e.listener}: ${e.message}`).join('; '));
    }
    this.health.setBackends(this.topology, this.config);
    this.tick = setInterval(() => this.onTick(), TICK_MS);
    this.onTick();
    log.info('netmon started', {
      version: VERSION,
      workers: this.config.workers,
      listeners: this.config.listeners.map((l) => `${l.name}=${l.bind.text}`),
      config: this.config.source,
    });
  }

  /** Alerts come from the alert engine, wired by main. */
  setAlertSource(fn: () => AlertSnapshot[]): void {
    this.alertSource = fn;
  }
  onTickHook(fn: (now: number) => void): void {
    this.tickHooks.push(fn);
  }
  get currentConfig(): Config {
    return this.config;
  }

  private onTick(): void {
    const now = this.now();
    this.processStats.sample();
    const slots = [...this.topology.backends.entries()].map(([, s]) => s);
    this.backendRates.sample(slots, now);
    const keep = new Set<string>();
    for (const l of this.config.listeners) {
      const slot = this.topology.listeners.get(l.name)!;
      const c = this.table.listenerCounters(slot);
      const key = `listener/${l.name}`;
      keep.add(key);
      const rejected = Object.values(c.rejected).reduce((a, b) => a + b, 0);
      this.counterRates.sample(
        key,
        { connections: c.accepted, bytesIn: c.bytesIn, bytesOut: c.bytesOut, errors: rejected, retries: 0 },
        now,
      );
    }
    this.counterRates.forget(keep);
    for (const key of this.topology.reapRemoved()) log.info('removed backend drained; slot freed', { backend: key });
    for (const h of this.tickHooks) {
      try {
        h(now);
      } catch (err) {
        log.error('periodic task failed', { err });
      }
    }
  }

  private onStateEvent(e: { key: string; from: string; to: string; cause: string; detail: string }): void {
    this.eventLog.push({
      type: 'state',
      time: this.now(),
      backend: e.key,
      from: e.from,
      to: e.to,
      cause: e.cause,
      detail: e.detail,
    });
  }

  // ---- reload ----
  reload(): Promise<ReloadResult> {
    if (this.reloading) return this.reloading;
    for (const w of this.reloadWatchers) w.start();
    this.reloading = this.doReload().finally(() => {
      this.reloading = null;
    });
    void this.reloading.then(
      (r) => {
        for (const w of this.reloadWatchers) w.end(r);
      },
      () => undefined,
    );
    return this.reloading;
  }

  /** Told when the daemon cannot go on serving as configured (main stops the process, exit 1). */
  onFatal(fn: (reason: string) => void): void {
    this.fatalHooks.push(fn);
  }

  /** Told when a reload starts and ends, whoever asked (SIGHUP or the control socket): systemd notify. */
  onReload(w: { start(): void; end(r: ReloadResult): void }): void {
    this.reloadWatchers.push(w);
  }

  private async doReload(): Promise<ReloadResult> {
    const now = this.now();
    let next: Config;
    try {
      next = this.opts.load();
      const misfit = this.topology.fits(next);
      if (misfit) throw new NetmonError('E_RELOAD_FAILED', `${misfit}; raise [limits] and restart`);
    } catch (err) {
      const errors = err instanceof ConfigErrors ? err.lines() : [err instanceof Error ? err.message : String(err)];
      return this.reloadFailed(errors, now);
    }
    const changes = this.topology.apply(next, now);
    this.config = next;
    setLogLevel(next.log.level);
    const listenErrors = await this.supervisor.apply(this.workerPlan());
    this.health.setBackends(this.topology, next);
    this.sourceWatch.checkConfig(next);
    const generation = this.topology.generation;
    const errors = listenErrors.map((e) => `listener ${e.listener}: ${e.message}`);
    const ok = errors.length === 0;
    this.table.recordReload(ok, now);
    this.lastReload = { ok, time: now, errors };
    this.eventLog.push({ type: 'reload', time: now, ok, generation, errors, changes });
    if (ok) log.info('config reloaded', { generation, changes });
    else log.warn('config reloaded with errors', { generation, changes, errors });
    return { ok, generation, errors, changes };
  }

  private reloadFailed(errors: string[], now: number): ReloadResult {
    this.table.recordReload(false, now);
    this.lastReload = { ok: false, time: now, errors };
    const generation = this.topology.generation;
    this.eventLog.push({ type: 'reload', time: now, ok: false, generation, errors, changes: [] });
    log.warn('reload rejected; the running config is unchanged', { errors });
    return { ok: false, generation, errors, changes: [] };
  }

  // ---- stop ----
  async stop(graceful: boolean): Promise<void> {
    if (this.tick) clearInterval(this.tick);
    this.tick = null;
    this.health.stop();
    this.processStats.stop();
    if (graceful) await this.supervisor.stop(this.config.drainTimeout);
    else await this.supervisor.terminate();
  }

  /** Immediate stop of the data plane (a second signal during a graceful stop). */
  terminate(): Promise<void> {
    return this.supervisor.terminate();
  }

  killWorker(id: number): Promise<boolean> {
    return this.supervisor.kill(id);
  }

  // ---- ControlContext ----
  snapshot(): Snapshot {
    return buildSnapshot(
      {
        table: this.table,
        topology: this.topology,
        backendRates: this.backendRates,
        counterRates: this.counterRates,
        info: () => this.info(),
        process: () => this.processStats.snapshot,
        workers: () => this.workers(),
        alerts: () => this.alertSource(),
        health: (slot) => this.health.backend(slot),
      },
      this.now(),
    );
  }

  windowLatency(slot: number): { connect: number[]; firstByte: number[] } | null {
    return this.backendRates.latencyCounts(slot);
  }

  private info(): InfoSnapshot {
    const rs = this.table.reloadStats();
    return {
      name: 'netmon',
      version: VERSION,
      pid: process.pid,
      node: process.version,
      startTime: this.table.startTime,
      uptimeSeconds: Math.round((this.now() - this.table.startTime) / 1000),
      workers: this.config.workers,
      configFile: this.config.source,
      generation: this.topology.generation,
      reloads: rs.reloads,
      reloadFailures: rs.failures,
      lastReload: this.lastReload,
      controlSocket: this.config.control.socket,
      metricsListen: this.config.metrics.listen?.text ?? null,
    };
  }

  private workers(): WorkerSnapshot[] {
    return this.supervisor.info().map((w) => {
      const s = this.table.workerStats(w.id);
      return {
        id: w.id,
        threadId: w.threadId,
        alive: w.alive,
        starts: s.starts,
        active: s.active,
        accepted: s.accepted,
        loopLagMs: Math.round(s.loopLagMs * 1000) / 1000,
        cpuSeconds: Math.round((s.cpuUser + s.cpuSystem) * 1000) / 1000,
      };
    });
  }

  events(limit: number): DaemonEvent[] {
    return this.eventLog.recent(limit);
  }

  onEvent(listener: (e: DaemonEvent) => void): () => void {
    return this.eventLog.subscribe(listener);
  }

  private backendSlot(key: string): number {
    if (typeof key !== 'string' || !key.includes('/')) {
      throw new NetmonError('E_BAD_ARGUMENT', `backend must be POOL/BACKEND, got ${JSON.stringify(key)}`);
    }
    const slot = this.topology.backends.get(key);
    if (slot === undefined || this.topology.removed.has(key)) throw new NetmonError('E_NOT_FOUND', `no backend ${key}`);
    return slot;
  }

  setState(backend: string, state: AdminStateName): void {
    const slot = this.backendSlot(backend);
    const s =
      state === 'ready'
        ? AdminState.Ready
        : state === 'drain'
          ? AdminState.Drain
          : state === 'maint'
            ? AdminState.Maint
            : -1;
    if (s < 0)
      throw new NetmonError('E_BAD_ARGUMENT', `state must be ready, drain or maint, got ${JSON.stringify(state)}`);
    const before = this.table.adminState(slot);
    if (this.table.setAdminState(slot, s as AdminState, Cause.Admin, this.now())) {
      const from = ['ready', 'drain', 'maint'][before]!;
      log.info('backend admin state', { backend, from, to: state, cause: 'admin' });
      this.onStateEvent({ key: backend, from, to: state, cause: 'admin', detail: 'set state' });
    }
  }

  setWeight(backend: string, weight: number): void {
    const slot = this.backendSlot(backend);
    if (!Number.isInteger(weight) || weight < 1 || weight > 256) {
      throw new NetmonError('E_BAD_ARGUMENT', `weight must be an integer 1..256, got ${JSON.stringify(weight)}`);
    }
    const before = this.table.weight(slot);
    this.health.setConfiguredWeight(slot, weight);
    log.info('backend weight', { backend, from: before, to: weight, cause: 'admin' });
  }

  setAlgorithm(pool: string, algorithm: string): void {
    const slot = this.topology.pools.get(pool);
    if (slot === undefined) throw new NetmonError('E_NOT_FOUND', `no pool ${pool}`);
    if (!(ALGORITHMS as readonly string[]).includes(algorithm)) {
      throw new NetmonError(
        'E_BAD_ARGUMENT',
        `algorithm must be one of ${ALGORITHMS.join(', ')}; got ${JSON.stringify(algorithm)}`,
      );
    }
    this.table.setPoolAlgorithm(slot, algorithmId(algorithm as AlgorithmName));
    log.info('pool algorithm', { pool, to: algorithm, cause: 'admin' });
  }

  setListenerEnabled(listener: string, enabled: boolean): void {
    const slot = this.topology.listeners.get(listener);
    if (slot === undefined) throw new NetmonError('E_NOT_FOUND', `no listener ${listener}`);
    this.table.setListenerEnabled(slot, enabled);
    log.info('listener', { listener, enabled, cause: 'admin' });
  }

  recordAction(a: { command: string; ok: boolean; message: string }): void {
    this.eventLog.push({ type: 'action', time: this.now(), ...a });
  }

  clients(limit: number): ClientStats[] {
    return readClients(this.table, this.topology.listeners.bySlot.keys(), limit);
  }

  /** The topology's plan plus the process-wide edge settings. */
  private sourceListeners(): SourceListener[] {
    return this.config.listeners.map((l) => ({
      name: l.name,
      slot: this.topology.listeners.get(l.name)!,
      quota: sourceQuota(l.edge),
    }));
  }

  private workerPlan(): WorkerPlan {
    return {
      ...this.topology.plan(),
      edge: { maxConnections: this.config.maxConnections },
    };
  }

  get hostName(): string {
    return os.hostname();
  }
}
