// The control plane: owns the table and the topology, supervises the workers,
// runs health checks, applies reloads and run-time changes, and answers the
// control socket. It never proxies a byte. A reload (and the start, as a
// reload from nothing) computes one ConfigDiff; every part applies its share:
// the table's slots (topology), the workers' plan, health checks, adaptive,
// the per-source tables, and whoever subscribed with onConfigApplied (alerts).
// A discovery source's change (DNS, etcd) is applied the same way: the running
// config is the file's with each source's backends in place, and a change is
// the diff between two running configs. Reloads and discovery changes are
// applied one at a time.
import os from 'node:os';
import { Table } from '../state/table.js';
import type { TableCapacity } from '../state/layout.js';
import { ADMIN_NAMES, Cause, type AdminStateName, type CauseName, type OpStateName } from '../state/names.js';
import type { AlertSnapshot, DaemonEvent, InfoSnapshot, Snapshot } from './snapshot/snapshot.js';
import { Topology, type ApplyCause } from './topology/topology.js';
import { Supervisor } from './supervisor.js';
import { EventLog } from './events.js';
import { RateTracker, CounterRates } from './rates.js';
import { ProcessStats } from './process-stats.js';
import { buildSnapshot, workerSnapshots } from './snapshot/builder.js';
import { HealthService } from './health/service.js';
import { AdaptiveService } from './adaptive/service.js';
import { log, setLogLevel } from '../log.js';
import { NetmonError, ConfigErrors, type ErrorCode } from '../errors.js';
import type { BackendConfig, Config } from '../config/schema.js';
import type { ClientStats, ControlContext, ReloadResult, StopAck } from './socket/context.js';
import { InstanceHealth, observeHealth, type HealthReport } from './service-health.js';
import { VERSION } from '../version.js';
import type { WorkerPlan } from '../data/plan.js';
import { readClients, SourceWatch } from './sources/source-clients.js';
import { Operator } from './operator.js';
import { sourceTableEntries } from '../data/edge/source-limits.js';
import { changedKeys, diffConfigs, type ConfigDiff } from './topology/diff.js';
import { failureCode, keyChanges, listenErrorLines, listenerStatus, type ListenerStatus } from './reload-report.js';
import type { ListenErrors } from './supervisor.js';
import { DiscoveryService, type DiscoveryNotice } from './discovery/service.js';

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
  private readonly adaptive: AdaptiveService;
  private readonly appliedHooks: ((d: ConfigDiff) => void)[] = [];
  private readonly operator: Operator;
  /** the first config as a diff from nothing, until start() has applied health's share */
  private initial: ConfigDiff | null;
  private listenState = new Map<string, ListenerStatus>();
  readonly discovery: DiscoveryService;
  /** the config as loaded from the file; `config` is the running one (discovered backends in place) */
  private fileConfig: Config;
  private config: Config;
  /** the tail of the chain that runs the start, reloads and discovery changes one at a time */
  private queue: Promise<unknown> = Promise.resolve();
  /** applies in progress (a removed backend's slot is not freed under one) */
  private applying = 0;
  private started = false;
  private discoveryQueued = false;
  private readonly instanceHealth: InstanceHealth;
  private readonly stopRequestHooks: ((cause: string) => StopAck)[] = [];

  constructor(
    config: Config,
    private readonly opts: DaemonOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.fileConfig = config;
    this.discovery = new DiscoveryService({
      now: this.now,
      changed: () => this.onDiscoveryChanged(),
      notice: (n) => this.onDiscoveryNotice(n),
    });
    // the sources answer in start(): until then the running config has the backends written with addresses
    this.config = this.discovery.expand(config);
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
    this.topology = new Topology(this.table, (e) => {
      log.info('backend admin state', { backend: e.key, from: e.from, to: e.to, cause: 'fleet' });
      this.onStateEvent({ ...e, cause: 'fleet', detail: 'etcd entry' });
    });
    this.backendRates = new RateTracker(this.table);
    for (const [name, fd] of opts.activated ?? []) this.topology.activated.set(name, fd);
    this.health = new HealthService(this.table, (e) => this.onStateEvent(e));
    this.operator = new Operator({
      table: this.table,
      topology: this.topology,
      health: this.health,
      now: this.now,
      onState: (e) => this.onStateEvent(e),
    });
    this.adaptive = new AdaptiveService(this.table, this.topology, this.eventLog);
    this.tickHooks.push((now) => this.adaptive.tick(now));
    this.sourceWatch = new SourceWatch(this.table);
    this.tickHooks.push((now) => this.sourceWatch.tick(now));
    this.initial = diffConfigs(null, this.config);
    this.topology.apply(this.initial, this.now(), Cause.Config);
    this.adaptive.apply(this.initial);
    this.sourceWatch.apply(this.initial, (name) => this.topology.listeners.get(name)!);
    this.supervisor = new Supervisor(this.table, config.workers, this.workerPlan(), {
      onPassive: (slot) => this.health.reportConnectFailures(slot),
      onWorker: (worker, what, detail) =>
        this.eventLog.push({ type: 'worker', time: this.now(), worker, what, detail }),
      onActivatedLost: () => {
        for (const fn of this.fatalHooks) fn('the worker serving socket-activated listeners exited');
      },
    });
    this.instanceHealth = new InstanceHealth(
      () => observeHealth(this.config, this.topology, this.supervisor.openListeners()),
      this.now,
    );
  }

  /**
   * Opens every listener in every worker. Throws, with every worker stopped,
   * E_LISTEN when a listener cannot bind, E_PLAN when a worker cannot apply
   * the plan.
   */
  async start(): Promise<void> {
    return this.serial(() => this.doStart());
  }

  private async doStart(): Promise<void> {
    this.started = true;
    if (DiscoveryService.wanted(this.fileConfig)) await this.startDiscovery();
    const failures = await this.supervisor.start(this.workerPlan());
    this.recordListening(failures);
    if (failures.length > 0) {
      await this.supervisor.terminate();
      throw new NetmonError(failureCode(failures)!, listenErrorLines(this.listenState).join('; '));
    }
    this.health.apply(this.initial!, this.topology);
    this.initial = null;
    this.tick = setInterval(() => this.onTick(), TICK_MS);
    this.onTick();
    log.info('netmon started', {
      version: VERSION,
      workers: this.config.workers,
      listeners: this.config.listeners.map((l) => `${l.name}=${l.bind.text}`),
      config: this.config.source,
    });
  }

  /**
   * The first answers of every discovery source (bounded by their timeouts),
   * applied before the workers start, so that they open with the backends found.
   * A source that has not answered keeps trying; its backends come as a change.
   */
  private async startDiscovery(): Promise<void> {
    await this.discovery.sync(this.fileConfig);
    const full = this.discovery.expand(this.fileConfig);
    const misfit = this.topology.fits(full);
    if (misfit) {
      this.discovery.refused(`${misfit}; raise [limits] max_backends and restart`);
      return;
    }
    const d = diffConfigs(this.config, full);
    this.topology.apply(d, this.now(), Cause.Config);
    this.adaptive.apply(d);
    this.sourceWatch.apply(d, (name) => this.topology.listeners.get(name)!);
    this.discovery.recordChanges(d);
    this.config = full;
    this.initial = diffConfigs(null, full);
  }

  /** Run `fn` after every start, reload and discovery change queued before it. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** A source's set changed: one discovery change is queued (changes that come meanwhile join it). */
  private onDiscoveryChanged(): void {
    if (!this.started || this.discoveryQueued) return;
    this.discoveryQueued = true;
    void this.serial(async () => {
      this.discoveryQueued = false;
      await this.applyDiscovered();
    }).catch((err: unknown) => log.error('applying discovered backends failed', { err }));
  }

  /** The running config with the sources' current sets, applied like a reload when it differs. */
  private async applyDiscovered(): Promise<void> {
    if (this.tick === null) return; // stopped, or the start failed
    const now = this.now();
    const next = this.discovery.expand(this.fileConfig);
    const misfit = this.topology.fits(next);
    if (misfit) {
      this.discovery.refused(`${misfit}; the backends found are not applied (raise [limits] max_backends)`);
      return;
    }
    const r = await this.applyConfig(this.fileConfig, next, Cause.Discovery, now);
    if (r === null) return;
    if (r.errors.length === 0)
      log.info('discovered backends applied', { generation: this.topology.generation, changes: r.changes });
    else
      log.warn('discovered backends applied in part', {
        generation: this.topology.generation,
        changes: r.changes,
        errors: r.errors,
      });
  }

  private onDiscoveryNotice(n: DiscoveryNotice): void {
    this.eventLog.push({ type: 'discovery', time: this.now(), ...n });
    const fields = { pool: n.pool, source: n.source, what: n.what, backend: n.backend ?? undefined, detail: n.detail };
    const degraded = ['failed', 'expired', 'invalid', 'disconnected', 'refused'].includes(n.what);
    if (degraded) log.warn(`discovery: ${n.source} ${n.what}`, fields);
    else log.info(`discovery: ${n.source} ${n.what}`, fields);
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
  /** Told of every config applied after the first (a reload's diff), once every part here has applied its share. */
  onConfigApplied(fn: (d: ConfigDiff) => void): void {
    this.appliedHooks.push(fn);
  }

  private onTick(): void {
    const now = this.now();
    this.processStats.sample();
    const slots = [...this.topology.backends.entries()].map(([, s]) => s);
    this.backendRates.sample(slots, now);
    const keep = new Set<string>();
    for (const l of this.config.listeners) {
      const slot = this.topology.listeners.get(l.name)!;
      const c = this.table.listeners.counters(slot);
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
    // a slot freed while an apply is under way could be given to a backend of a plan not yet everywhere
    if (this.applying === 0) {
      for (const what of this.topology.reapRemoved()) log.info('removed and drained; slot freed', { what });
    }
    this.instanceHealth.logChange();
    for (const h of this.tickHooks) {
      try {
        h(now);
      } catch (err) {
        log.error('periodic task failed', { err });
      }
    }
  }

  private onStateEvent(e: {
    key: string;
    from: AdminStateName | OpStateName;
    to: AdminStateName | OpStateName;
    cause: CauseName;
    detail: string;
  }): void {
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
    this.reloading = this.serial(() => this.doReload()).finally(() => {
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
    let file: Config;
    let next: Config;
    try {
      file = this.opts.load();
      // the sources the new config asks for answer first (bounded), so it opens with their backends
      await this.discovery.sync(file);
      next = this.discovery.expand(file);
      const misfit = this.topology.fits(next);
      if (misfit) {
        // the running config's sources again (those the new one dropped start over)
        await this.discovery.sync(this.fileConfig);
        throw new NetmonError('E_RELOAD_FAILED', `${misfit}; raise [limits] and restart`);
      }
    } catch (err) {
      const errors =
        err instanceof ConfigErrors
          ? err.errors.map((e) => e.format())
          : [err instanceof Error ? err.message : String(err)];
      return this.reloadFailed(errors, now);
    }
    const r = (await this.applyConfig(file, next, Cause.Reload, now))!;
    const { d, changes, errors, code } = r;
    const generation = this.topology.generation;
    const ok = errors.length === 0;
    const outcome = ok ? 'applied' : 'partial';
    this.table.header.recordReload(ok, now);
    this.lastReload = { ok, outcome, time: now, errors };
    this.eventLog.push({ type: 'reload', time: now, ok, outcome, generation, errors, changes });
    if (ok) log.info('config reloaded', { generation, changes });
    else log.warn('config reloaded in part: the new config runs except what failed', { generation, changes, errors });
    return { ok, outcome, code, generation, errors, changes, keys: changedKeys(d) };
  }

  /**
   * Apply a running config (a reload's, or the file's with new discovered sets):
   * one ConfigDiff from the running one, applied by every part. Returns null,
   * applying nothing, when a discovery change turns out to change nothing.
   */
  private async applyConfig(
    file: Config,
    next: Config,
    cause: ApplyCause,
    now: number,
  ): Promise<{ d: ConfigDiff; changes: string[]; errors: string[]; code: ErrorCode | null } | null> {
    const d = diffConfigs(this.config, next);
    if (cause === Cause.Discovery && changedKeys(d).length === 0) return null;
    this.applying++;
    try {
      const changes = [...this.topology.apply(d, now, cause), ...keyChanges(d)];
      this.config = next;
      this.fileConfig = file;
      setLogLevel(next.log.level);
      const errors: string[] = [];
      let code: ErrorCode | null = null;
      try {
        const failures = await this.supervisor.apply(this.workerPlan());
        this.recordListening(failures);
        errors.push(...listenErrorLines(this.listenState));
        code = failureCode(failures);
      } catch (err) {
        errors.push(err instanceof NetmonError ? `${err.message} [${err.code}]` : String(err));
        code = 'E_INTERNAL';
      }
      // the workers have the new members: say so before health's share (a new backend's slow start) follows
      this.discovery.recordChanges(d);
      this.health.apply(d, this.topology, cause);
      this.adaptive.apply(d);
      this.sourceWatch.apply(d, (name) => this.topology.listeners.get(name)!);
      for (const fn of this.appliedHooks) {
        try {
          fn(d);
        } catch (err) {
          log.error('applying a config failed in a subscriber', { err });
        }
      }
      return { d, changes, errors, code };
    } finally {
      this.applying--;
    }
  }

  /** What the workers could open of the current config, per listener. */
  private recordListening(failures: ListenErrors): void {
    this.listenState = listenerStatus(this.config, failures, new Set(this.topology.activated.keys()));
  }

  private reloadFailed(errors: string[], now: number): ReloadResult {
    this.table.header.recordReload(false, now);
    this.lastReload = { ok: false, outcome: 'refused', time: now, errors };
    const generation = this.topology.generation;
    this.eventLog.push({ type: 'reload', time: now, ok: false, outcome: 'refused', generation, errors, changes: [] });
    log.warn('reload rejected; the running config is unchanged', { errors });
    return { ok: false, outcome: 'refused', code: 'E_RELOAD_FAILED', generation, errors, changes: [], keys: [] };
  }

  // ---- health and stop ----
  /** Whether this instance should get new traffic: /healthz, `show health`, keepalived, BGP. */
  serviceHealth(): HealthReport {
    return this.instanceHealth.report();
  }

  /**
   * First step of a graceful stop: report unhealthy for `ms` while still
   * accepting, so the route to this instance is withdrawn before its listeners close.
   */
  enterLameDuck(ms: number): void {
    this.instanceHealth.enterLameDuck(ms);
  }

  /** main.ts runs the stop sequence; the control socket's `stop` asks it through here. */
  onStopRequest(fn: (cause: string) => StopAck): void {
    this.stopRequestHooks.push(fn);
  }

  requestStop(cause: string): StopAck {
    const hook = this.stopRequestHooks[0];
    if (!hook) throw new NetmonError('E_INTERNAL', 'this daemon runs inside another program; stop it there');
    return hook(cause);
  }

  async stop(graceful: boolean): Promise<void> {
    this.instanceHealth.enterDraining();
    if (this.tick) clearInterval(this.tick);
    this.tick = null;
    this.discovery.stop();
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
        workers: () => workerSnapshots(this.table, this.supervisor.info()),
        alerts: () => this.alertSource(),
        health: (slot) => this.health.backend(slot),
        listenerStatus: (name) => this.listenState.get(name) ?? { serving: null, error: null },
        discovery: () => this.discovery.status(),
      },
      this.now(),
    );
  }

  windowLatency(slot: number): { connect: number[]; firstByte: number[] } | null {
    return this.backendRates.latencyCounts(slot);
  }

  private info(): InfoSnapshot {
    const rs = this.table.header.reloadStats();
    return {
      name: 'netmon',
      version: VERSION,
      pid: process.pid,
      node: process.version,
      startTime: this.table.header.startTime(),
      uptimeSeconds: Math.round((this.now() - this.table.header.startTime()) / 1000),
      workers: this.config.workers,
      configFile: this.config.source,
      generation: this.topology.generation,
      reloads: rs.reloads,
      reloadFailures: rs.failures,
      lastReload: this.lastReload,
      controlSocket: this.config.control.socket,
      metricsListen: this.config.metrics.listen?.text ?? null,
      discoveryRefusals: this.discovery.refusals,
    };
  }

  events(limit: number): DaemonEvent[] {
    return this.eventLog.recent(limit);
  }

  onEvent(listener: (e: DaemonEvent) => void): () => void {
    return this.eventLog.subscribe(listener);
  }

  setState(backend: string, state: AdminStateName): void {
    this.operator.setState(backend, state);
  }
  setWeight(backend: string, weight: number): void {
    this.operator.setWeight(backend, weight);
  }
  /**
   * `set state POOL/BACKEND STATE --fleet`: written into the backend's etcd
   * entry, so every instance watching its prefix applies it; answers once this
   * one has (through its own watch, or at once when the entry already said so).
   */
  async setFleetState(backend: string, state: AdminStateName): Promise<void> {
    if (!(ADMIN_NAMES as readonly string[]).includes(state)) {
      throw new NetmonError('E_BAD_ARGUMENT', `state must be ready, drain or maint, got ${JSON.stringify(state)}`);
    }
    const { slot, b } = this.liveBackend(backend);
    await this.discovery.writeFleet(backend, b.discovered, b.name, { state });
    const want = ADMIN_NAMES.indexOf(state);
    await this.appliedHere(() => this.table.backends.adminState(slot) === want);
    if (this.table.backends.adminState(slot) !== want) this.operator.setState(backend, state);
  }

  /** `set weight POOL/BACKEND N --fleet`, as setFleetState. */
  async setFleetWeight(backend: string, weight: number): Promise<void> {
    if (!Number.isInteger(weight) || weight < 1 || weight > 256) {
      throw new NetmonError('E_BAD_ARGUMENT', `weight must be an integer 1..256, got ${JSON.stringify(weight)}`);
    }
    const { slot, b } = this.liveBackend(backend);
    await this.discovery.writeFleet(backend, b.discovered, b.name, { weight });
    await this.appliedHere(() => this.table.backends.weight(slot) === weight);
    if (this.table.backends.weight(slot) !== weight) this.operator.setWeight(backend, weight);
  }

  private liveBackend(key: string): { slot: number; b: BackendConfig } {
    const slot = this.topology.backends.get(key);
    const entry = this.topology.backendConfig.get(key);
    if (slot === undefined || entry === undefined || this.topology.removed.has(key)) {
      throw new NetmonError('E_NOT_FOUND', `no backend ${key}`);
    }
    return { slot, b: entry.backend };
  }

  /** Resolves once `done()` holds, or after [etcd] timeout. */
  private async appliedHere(done: () => boolean): Promise<void> {
    const until = Date.now() + this.config.etcd.timeout;
    while (!done() && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  }

  setAlgorithm(pool: string, algorithm: string): void {
    this.operator.setAlgorithm(pool, algorithm);
  }
  setListenerEnabled(listener: string, enabled: boolean): void {
    this.operator.setListenerEnabled(listener, enabled);
  }

  recordAction(a: { command: string; ok: boolean; message: string }): void {
    this.eventLog.push({ type: 'action', time: this.now(), ...a });
  }

  clients(limit: number): ClientStats[] {
    return readClients(this.table, this.topology.listeners.bySlot.keys(), limit);
  }

  /** The topology's plan plus the process-wide edge settings. */
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
