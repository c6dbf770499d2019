// One reload, whoever asked (SIGHUP or `netmon ctl reload`): re-read the config,
// apply it through the Applier (one diff, every part its share), and report the
// outcome truthfully: applied, partial (the new config runs except what failed,
// E_LISTEN) or refused (the running config is unchanged, E_RELOAD_FAILED). A
// reload asked for while one runs is folded into it.
import type { Table } from '../state/table.js';
import { Cause } from '../state/names.js';
import type { InfoSnapshot } from './snapshot/snapshot.js';
import type { Topology } from './topology/topology.js';
import type { EventLog } from './events.js';
import type { Applier } from './applier.js';
import type { ReloadResult } from './socket/context.js';
import type { Config } from '../config/schema.js';
import { changedKeys } from './topology/diff.js';
import { warnFdLimit } from './fd-check.js';
import { ConfigErrors } from '../errors.js';
import { log } from '../log.js';

/** What a reload needs from the daemon. */
export interface ReloaderDeps {
  table: Table;
  topology: Topology;
  eventLog: EventLog;
  applier: Applier;
  /** loads and validates the config file (throws ConfigErrors) */
  load: () => Config;
  /** ms since the epoch */
  now: () => number;
}

/** Told when a reload starts and ends (systemd notify's RELOADING=1 / READY=1). */
export interface ReloadWatcher {
  start(): void;
  end(r: ReloadResult): void;
}

export class Reloader {
  private running: Promise<ReloadResult> | null = null;
  private readonly watchers: ReloadWatcher[] = [];
  /** the last reload's outcome, for `show info`; null before the first */
  last: InfoSnapshot['lastReload'] = null;

  constructor(private readonly deps: ReloaderDeps) {}

  /** Told when a reload starts and ends, whoever asked. */
  watch(w: ReloadWatcher): void {
    this.watchers.push(w);
  }

  /**
   * Reloads once (joining a reload under way). Never rejects for a bad config:
   * the result says `refused` with the loader's lines (E_RELOAD_FAILED), or
   * `partial` with what failed to apply (E_LISTEN).
   */
  reload(): Promise<ReloadResult> {
    if (this.running) return this.running;
    for (const w of this.watchers) w.start();
    this.running = this.deps.applier
      .serial(() => this.run())
      .finally(() => {
        this.running = null;
      });
    void this.running.then(
      (r) => {
        for (const w of this.watchers) w.end(r);
      },
      () => undefined,
    );
    return this.running;
  }

  private async run(): Promise<ReloadResult> {
    const { applier, table, topology, eventLog } = this.deps;
    const now = this.deps.now();
    let file: Config;
    let next: Config;
    try {
      file = this.deps.load();
      next = await applier.prepare(file);
    } catch (err) {
      const errors = err instanceof ConfigErrors ? err.lines() : [err instanceof Error ? err.message : String(err)];
      return this.refused(errors, now);
    }
    const { d, changes, errors, code } = (await applier.apply(file, next, Cause.Reload, now))!;
    warnFdLimit(applier.running);
    const generation = topology.generation;
    const ok = errors.length === 0;
    const outcome = ok ? 'applied' : 'partial';
    table.header.recordReload(ok, now);
    this.last = { ok, outcome, time: now, errors };
    const keys = changedKeys(d);
    eventLog.push({ type: 'reload', time: now, ok, outcome, generation, errors, changes });
    if (ok) log.info('config reloaded', { generation, changes, keys });
    else {
      log.warn('config reloaded in part: the new config runs except what failed', {
        generation,
        changes,
        keys,
        errors,
      });
    }
    return { ok, outcome, code, generation, errors, changes, keys };
  }

  private refused(errors: string[], now: number): ReloadResult {
    const { table, topology, eventLog } = this.deps;
    table.header.recordReload(false, now);
    this.last = { ok: false, outcome: 'refused', time: now, errors };
    const generation = topology.generation;
    eventLog.push({ type: 'reload', time: now, ok: false, outcome: 'refused', generation, errors, changes: [] });
    log.warn('reload rejected; the running config is unchanged', { errors });
    return { ok: false, outcome: 'refused', code: 'E_RELOAD_FAILED', generation, errors, changes: [], keys: [] };
  }
}
