// Applies configs to the running daemon, one at a time: the start's, each
// reload's, and each discovery change's. The config that runs is the file's
// with every discovery source replaced by the backends it found; a reload or a
// source's change is one ConfigDiff between two running configs, and every part
// applies its share of it: the table's slots (topology), the workers' plan,
// health checks, adaptive, the per-source tables, and whoever subscribed
// (alerts). A discovery change is applied exactly as a reload is, without one.
import { Cause } from '../state/names.js';
import { log, setLogLevel } from '../log.js';
import { NetmonError, type ErrorCode } from '../errors.js';
import type { Config } from '../config/schema.js';
import type { WorkerPlan } from '../data/plan.js';
import type { Topology, ApplyCause } from './topology/topology.js';
import type { ListenErrors } from './supervisor.js';
import type { HealthService } from './health/service.js';
import type { AdaptiveService } from './adaptive/service.js';
import type { SourceWatch } from './sources/source-clients.js';
import { DiscoveryService } from './discovery/service.js';
import { changedKeys, diffConfigs, type ConfigDiff } from './topology/diff.js';
import { failureCode, keyChanges, listenErrorLines, listenerStatus, type ListenerStatus } from './reload-report.js';

/** The parts of the daemon that apply a share of each config. */
export interface ApplierParts {
  topology: Topology;
  /** every worker gets the plan; resolves with the listeners some could not open (supervisor.ts) */
  sendPlan(plan: WorkerPlan): Promise<ListenErrors>;
  /** listener names some live worker has open now (supervisor.ts) */
  openListeners(): ReadonlySet<string>;
  health: HealthService;
  adaptive: AdaptiveService;
  sourceWatch: SourceWatch;
  discovery: DiscoveryService;
  /** told of every config applied after the first, once every part has applied its share */
  appliedHooks: readonly ((d: ConfigDiff) => void)[];
  /** the topology's plan plus the process-wide settings, for the running config */
  workerPlan(): WorkerPlan;
  now(): number;
}

/** What one apply did. */
export interface Applied {
  d: ConfigDiff;
  changes: string[];
  /** what did not apply (a listener that could not bind, E_LISTEN; a plan a worker refused, E_PLAN) */
  errors: string[];
  code: ErrorCode | null;
}

export class Applier {
  /** the config as loaded from the file */
  file: Config;
  /** the config that runs: the file's, discovered backends in place */
  running: Config;
  /** the first config as a diff from nothing, until the start has applied health's share */
  initial: ConfigDiff | null;
  /** what each listener actually serves, after the last apply */
  listening = new Map<string, ListenerStatus>();
  /** the tail of the chain that runs the start, reloads and discovery changes one at a time */
  private queue: Promise<unknown> = Promise.resolve();
  /** applies under way: a removed backend's slot is not freed under one (its plan is not everywhere yet) */
  private applying = 0;
  private discoveryQueued = false;
  /** discovery changes are applied once this is set (by the start, after the first plan is out) */
  serving = false;

  constructor(
    file: Config,
    private readonly p: ApplierParts,
  ) {
    this.file = file;
    // the sources answer at the start: until then the running config has the backends written with addresses
    this.running = p.discovery.expand(file);
    this.initial = diffConfigs(null, this.running);
    p.topology.apply(this.initial, p.now(), Cause.Config);
    p.adaptive.apply(this.initial);
    p.sourceWatch.apply(this.initial, (name) => p.topology.listeners.get(name)!);
  }

  get idle(): boolean {
    return this.applying === 0;
  }

  /** Run `fn` after every start, reload and discovery change queued before it. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * The first answers of every discovery source (bounded by their timeouts),
   * applied before the workers start, so that they open with the backends found.
   * A source that has not answered keeps trying; its backends come as a change.
   */
  async startDiscovery(): Promise<void> {
    const { discovery, topology } = this.p;
    if (!DiscoveryService.wanted(this.file)) return;
    await discovery.sync(this.file);
    const full = discovery.expand(this.file);
    const misfit = topology.fits(full);
    if (misfit) {
      discovery.refused(`${misfit}; raise [limits] max_backends and restart`);
      return;
    }
    const d = diffConfigs(this.running, full);
    topology.apply(d, this.p.now(), Cause.Config);
    this.p.adaptive.apply(d);
    this.p.sourceWatch.apply(d, (name) => topology.listeners.get(name)!);
    discovery.recordChanges(d);
    this.running = full;
    this.initial = diffConfigs(null, full);
  }

  /**
   * A reload's candidate: the sources `file` asks for answer first (bounded),
   * so it opens with their backends. Throws E_RELOAD_FAILED when the result does
   * not fit the table (the running sources are then taken back).
   */
  async prepare(file: Config): Promise<Config> {
    const { discovery, topology } = this.p;
    await discovery.sync(file);
    const next = discovery.expand(file);
    const misfit = topology.fits(next);
    if (misfit) {
      // the running config's sources again (those the new one dropped start over)
      await discovery.sync(this.file);
      throw new NetmonError('E_RELOAD_FAILED', `${misfit}; raise [limits] and restart`);
    }
    return next;
  }

  /**
   * Apply a running config: one ConfigDiff from the running one, applied by
   * every part. Returns null, applying nothing, when a discovery change turns
   * out to change nothing.
   */
  async apply(file: Config, next: Config, cause: ApplyCause, now: number): Promise<Applied | null> {
    const p = this.p;
    const d = diffConfigs(this.running, next);
    if (cause === Cause.Discovery && changedKeys(d).length === 0) return null;
    this.applying++;
    try {
      const changes = [...p.topology.apply(d, now, cause), ...keyChanges(d)];
      this.running = next;
      this.file = file;
      setLogLevel(next.log.level);
      const errors: string[] = [];
      let code: ErrorCode | null = null;
      try {
        // each listener's address, checked before the workers bind (topology/listen-addresses.ts)
        const refused = await p.topology.prepareBinds(p.openListeners());
        const failures = [...refused, ...(await p.sendPlan(p.workerPlan()))];
        this.recordListening(failures);
        errors.push(...listenErrorLines(this.listening));
        code = failureCode(failures);
      } catch (err) {
        errors.push(err instanceof NetmonError ? `${err.message} [${err.code}]` : String(err));
        code = 'E_INTERNAL';
      }
      // the workers have the new members: say so before health's share (a new backend's slow start) follows
      p.discovery.recordChanges(d);
      p.health.apply(d, p.topology, cause);
      p.adaptive.apply(d);
      p.sourceWatch.apply(d, (name) => p.topology.listeners.get(name)!);
      for (const fn of p.appliedHooks) {
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

  /** What the workers could open of the running config, per listener. */
  recordListening(failures: ListenErrors): void {
    const { topology } = this.p;
    const activated = new Set(topology.activated.keys());
    this.listening = listenerStatus(this.running, failures, activated, (name) => topology.boundText(name));
    topology.addresses.commit(this.running.listeners, (name) => this.listening.get(name)?.serving ?? null);
  }

  /** A source's set changed: one discovery change is queued (changes that come meanwhile join it). */
  discoveryChanged(): void {
    if (this.discoveryQueued) return;
    this.discoveryQueued = true;
    void this.serial(async () => {
      this.discoveryQueued = false;
      await this.applyDiscovered();
    }).catch((err: unknown) => log.error('applying discovered backends failed', { err }));
  }

  /** The running config with the sources' current sets, applied like a reload when it differs. */
  private async applyDiscovered(): Promise<void> {
    // before the start's first plan (which takes them) and after a stop, a change waits or is dropped
    if (!this.serving) return;
    const next = this.p.discovery.expand(this.file);
    const misfit = this.p.topology.fits(next);
    if (misfit) {
      this.p.discovery.refused(`${misfit}; the backends found are not applied (raise [limits] max_backends)`);
      return;
    }
    const r = await this.apply(this.file, next, Cause.Discovery, this.p.now());
    if (r === null) return;
    const fields = { generation: this.p.topology.generation, changes: r.changes };
    if (r.errors.length === 0) log.info('discovered backends applied', fields);
    else log.warn('discovered backends applied in part', { ...fields, errors: r.errors });
  }
}
