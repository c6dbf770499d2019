// The control plane: owns the table and the topology, supervises the workers,
// runs health checks, applies reloads and run-time changes, and answers the
// control socket. It never proxies a byte. A reload (and the start, as a
// reload from nothing) computes one ConfigDiff; every part applies its share
// (applier.ts): the table's slots (topology), the workers' plan, health checks,
// adaptive, the per-source tables, and whoever subscribed with
// onConfigApplied (alerts). A discovery source's change (DNS, etcd) is applied
// the same way, one at a time with reloads.
import { Table } from '../state/table.js';
import type { TableCapacity } from '../state/layout.js';
import type { AdminStateName, CauseName, OpStateName } from '../state/names.js';
import type { AlertSnapshot, DaemonEvent, InfoSnapshot, Snapshot } from './snapshot/snapshot.js';
import { Topology } from './topology/topology.js';
import { Supervisor, type CutCause } from './supervisor.js';
import { EventLog } from './events.js';
import { RateTracker, CounterRates } from './rates.js';
import { ProcessStats } from './process-stats.js';
import { buildSnapshot, workerSnapshots } from './snapshot/builder.js';
import { HealthService } from './health/service.js';
import { AdaptiveService } from './adaptive/service.js';
import { log, setLogLevel } from '../log.js';
import { NetmonError } from '../errors.js';
import type { Config } from '../config/schema.js';
import type { ClientStats, ControlContext, ReloadResult, StopAck } from './socket/context.js';
import { InstanceHealth, observeHealth, type HealthReport } from './service-health.js';
import { VERSION } from '../version.js';
import type { InjectedFault, WorkerPlan } from '../data/plan.js';
import { readClients, SourceWatch } from './sources/source-clients.js';
import { Operator } from './operator.js';
import { sourceTableEntries } from '../data/edge/source-limits.js';
import type { ConfigDiff } from './topology/diff.js';
import { failureCode, listenErrorLines } from './reload-report.js';
import { DiscoveryService } from './discovery/service.js';
import { Applier } from './applier.js';
import { Reloader, type ReloadWatcher } from './reloader.js';
import { warnFdLimit } from './fd-check.js';
import { restartCheck } from './restart-check.js';

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
  private readonly fatalHooks: ((reason: string) => void)[] = [];
  private alertSource: () => AlertSnapshot[] = () => [];
  private readonly tickHooks: ((now: number) => void)[] = [];
  private readonly sourceWatch: SourceWatch;
  private readonly adaptive: AdaptiveService;
  private readonly appliedHooks: ((d: ConfigDiff) => void)[] = [];
  private readonly operator: Operator;
  readonly discovery: DiscoveryService;
  private readonly applier: Applier;
  private readonly reloader: Reloader;
  private readonly instanceHealth: InstanceHealth;
  private readonly stopRequestHooks: ((cause: string) => StopAck)[] = [];

  constructor(config: Config, opts: DaemonOptions) {
    this.now = opts.now ?? Date.now;
    this.discovery = new DiscoveryService({
      now: this.now,
      changed: () => this.applier.discoveryChanged(),
      notice: (n) => this.eventLog.push({ type: 'discovery', time: this.now(), ...n }),
    });
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
      discovery: this.discovery,
      now: this.now,
      fleetTimeout: () => this.config.etcd.timeout,
      onState: (e) => this.onStateEvent(e),
    });
    this.adaptive = new AdaptiveService(this.table, this.topology, this.eventLog);
    this.tickHooks.push((now) => this.adaptive.tick(now));
    this.sourceWatch = new SourceWatch(this.table);
    this.tickHooks.push((now) => this.sourceWatch.tick(now));
    this.applier = new Applier(config, {
      topology: this.topology,
      sendPlan: (plan) => this.supervisor.apply(plan),
      openListeners: () => this.supervisor.openListeners(),
      health: this.health,
      adaptive: this.adaptive,
      sourceWatch: this.sourceWatch,
      discovery: this.discovery,
      appliedHooks: this.appliedHooks,
      workerPlan: () => this.workerPlan(),
      now: this.now,
    });
    this.reloader = new Reloader({
      table: this.table,
      topology: this.topology,
      eventLog: this.eventLog,
      applier: this.applier,
      load: opts.load,
      now: this.now,
    });
    this.supervisor = new Supervisor(this.table, config.workers, {
      onPassive: (slot) => this.health.reportConnectFailures(slot),
      onWorker: (worker, what, detail) =>
        this.eventLog.push({ type: 'worker', time: this.now(), worker, what, detail }),
      onActivatedLost: () => {
        for (const fn of this.fatalHooks) fn('the worker serving socket-activated listeners exited');
      },
      restartPlan: restartCheck(this.topology, this.applier),
    });
    this.instanceHealth = new InstanceHealth(
      () => observeHealth(this.applier.running, this.topology, this.supervisor.openListeners()),
      this.now,
    );
  }

  /**
   * Opens every listener in every worker. Throws, with every worker stopped,
   * E_LISTEN when a listener cannot bind or another program listens on its
   * address (then no worker starts), E_PLAN when a worker cannot apply the plan.
   */
  async start(): Promise<void> {
    return this.applier.serial(() => this.doStart());
  }

  private async doStart(): Promise<void> {
    await this.applier.startDiscovery();
    const refused = await this.topology.prepareBinds(new Set());
    const failures = refused.length > 0 ? refused : await this.supervisor.start(this.workerPlan());
    this.applier.recordListening(failures);
    if (failures.length > 0) {
      await this.supervisor.terminate();
      throw new NetmonError(failureCode(failures)!, listenErrorLines(this.applier.listening).join('; '));
    }
    this.health.apply(this.applier.initial!, this.topology);
    this.applier.initial = null;
    this.applier.serving = true;
    warnFdLimit(this.config);
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
  /** the running config: the file's, with discovered backends in place */
  get currentConfig(): Config {
    return this.applier.running;
  }
  private get config(): Config {
    return this.applier.running;
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
    this.counterRates.sampleListeners(
      this.table,
      this.config.listeners.map((l) => [l.name, this.topology.listeners.get(l.name)!]),
      now,
    );
    // a slot freed while an apply is under way could be given to a backend of a plan not yet everywhere
    if (this.applier.idle) {
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
  /** Reloads the config file (see Reloader.reload): applied, partial or refused, never a rejection. */
  reload(): Promise<ReloadResult> {
    return this.reloader.reload();
  }

  /** Told when the daemon cannot go on serving as configured (main stops the process, exit 1). */
  onFatal(fn: (reason: string) => void): void {
    this.fatalHooks.push(fn);
  }

  /** Told when a reload starts and ends, whoever asked (SIGHUP or the control socket): systemd notify. */
  onReload(w: ReloadWatcher): void {
    this.reloader.watch(w);
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

  /**
   * Stop serving: graceful, the listeners close and open connections get up
   * to drain_timeout; else they are cut now (`cause` says why, in the warning
   * that counts them).
   */
  async stop(graceful: boolean, cause: CutCause = 'immediate_stop'): Promise<void> {
    this.instanceHealth.enterDraining();
    if (this.tick) clearInterval(this.tick);
    this.tick = null;
    this.applier.serving = false;
    this.discovery.stop();
    this.health.stop();
    this.processStats.stop();
    if (graceful) await this.supervisor.stop(this.config.drainTimeout);
    else await this.supervisor.terminate(cause);
  }

  /** Immediate stop of the data plane (a second signal during a graceful stop). */
  terminate(): Promise<void> {
    return this.supervisor.terminate('second_signal');
  }

  /** Crash one worker as an exception outside any connection would; resolves once it has exited. */
  killWorker(id: number): Promise<boolean> {
    return this.supervisor.kill(id);
  }

  /** Test hook (not in the config or the control socket): block worker `id`'s event loop for `ms`. */
  stallWorker(id: number, ms: number): boolean {
    return this.supervisor.stall(id, ms);
  }

  /** Test hook (not in the config or the control socket): arm a fault on a listener's connections. */
  injectFault(listener: string, at: InjectedFault | null): void {
    this.supervisor.injectFault(listener, at);
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
        process: () => ({ ...this.processStats.snapshot, probesWithoutFds: this.health.probesWithoutFds() }),
        workers: () => workerSnapshots(this.table, this.supervisor.info()),
        alerts: () => this.alertSource(),
        health: (slot) => this.health.backend(slot),
        adaptiveReason: (pool) => this.adaptive.reason(pool),
        listenerStatus: (name) =>
          this.applier.listening.get(name) ?? { bind: this.topology.boundText(name), serving: null, error: null },
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
      lastReload: this.reloader.last,
      controlSocket: this.config.control.socket,
      metricsListen: this.config.metrics.listen?.text ?? null,
      discoveryRefusals: this.discovery.refusals,
      health: this.instanceHealth.report(),
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
  setFleetState(backend: string, state: AdminStateName): Promise<void> {
    return this.operator.setFleetState(backend, state);
  }
  setFleetWeight(backend: string, weight: number): Promise<void> {
    return this.operator.setFleetWeight(backend, weight);
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
}
