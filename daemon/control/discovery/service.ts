// Discovery on the main thread: one source per name, SRV name or etcd prefix the
// config asks for (specs.ts), kept across reloads while the config asks for it
// the same way (with its last good set, state and counters), started when a
// config first asks for it and stopped when none does. It turns the sources'
// sets into the running config (the daemon applies that through the same
// ConfigDiff as a reload), counts what each change did, and says how each
// source is doing for `show pools`, the metrics and the alerts.
import type { Etcd3 } from 'etcd3';
import type { Config, EtcdConfig, ResolversConfig } from '../../config/schema.js';
import { DEFAULT_RESOLVERS } from '../../config/defaults.js';
import { NetmonError } from '../../errors.js';
import { log } from '../../log.js';
import type { AdminStateName } from '../../state/names.js';
import type { ConfigDiff } from '../topology/diff.js';
import { DnsClient, type Dns } from './dns-client.js';
import { AddressSource, SrvSource, type DnsContext } from './dns-source.js';
import { createEtcdClient, writeEntry } from './etcd-client.js';
import { EtcdSource } from './etcd-source.js';
import { expandConfig, sourceLabel, sourceSpecs, type SourceSpec } from './specs.js';
import type { Source, SourceNotice } from './source.js';
import type { DiscoveryEventWhat, DiscoverySnapshot } from '../snapshot/snapshot.js';

/** How a source of a pool is doing, as `show pools`, `netmon top`, the metrics and the alerts see it. */
export type SourceStatus = DiscoverySnapshot & { pool: string };

/** A change a discovery source made, or how a source is doing; the daemon makes it a `discovery` event. */
interface DiscoveryNotice {
  pool: string;
  source: string;
  what: DiscoveryEventWhat;
  /** the backend, for added / removed / reweighted */
  backend: string | null;
  detail: string;
}

export interface DiscoveryHooks {
  now(): number;
  /** a source's set changed: build the running config (expand) and apply it */
  changed(): void;
  notice(n: DiscoveryNotice): void;
  /** answers the DNS questions; default a DnsClient per [resolvers] */
  dns?: (cfg: ResolversConfig) => Dns & { cancel?(): void };
}

interface Entry {
  spec: SourceSpec;
  source: Source;
}

const DEGRADED = new Set<DiscoveryEventWhat>(['failed', 'expired', 'invalid', 'disconnected', 'refused']);

/** At most this long, ms, a start or reload waits for the first answers of its new sources. */
const FIRST_ANSWER_CAP_MS = 10_000;

export class DiscoveryService {
  private readonly entries = new Map<string, Entry>();
  private resolvers: ResolversConfig = DEFAULT_RESOLVERS;
  private dnsClient: (Dns & { cancel?(): void }) | null = null;
  private etcdCfg: EtcdConfig | null = null;
  private etcd: Etcd3 | null = null;
  private stopped = false;
  /** running configs whose discovered backends did not fit the table (limits.max_backends) */
  refusals = 0;

  private readonly hooks: DiscoveryHooks;

  constructor(hooks: DiscoveryHooks) {
    // every notice is a log line too: a degraded source at warn, a change at info
    this.hooks = {
      ...hooks,
      notice: (n) => {
        const fields = {
          pool: n.pool,
          source: n.source,
          what: n.what,
          backend: n.backend ?? undefined,
          detail: n.detail,
        };
        if (DEGRADED.has(n.what)) log.warn(`discovery: ${n.source} ${n.what}`, fields);
        else log.info(`discovery: ${n.source} ${n.what}`, fields);
        hooks.notice(n);
      },
    };
  }

  /** Whether `config` asks for any source (the daemon skips waiting when not). */
  static wanted(config: Config): boolean {
    return sourceSpecs(config).length > 0;
  }

  /**
   * Take the sources `file` asks for: start the new ones, stop the ones it no
   * longer asks for, and wait (bounded by the resolver's and etcd's own timeouts,
   * at most 10 s) for the first answer of each new one, so that a start or a
   * reload opens with the backends found rather than without them. A source
   * that does not answer in time keeps trying in the background.
   */
  async sync(file: Config): Promise<void> {
    if (this.stopped) return;
    const specs = sourceSpecs(file);
    // a config without discovery needs no resolver nor etcd client
    if (specs.length === 0 && this.entries.size === 0) return;
    await this.takeSettings(file);
    if (this.stopped) return;
    const wanted = new Set(specs.map((s) => s.id));
    for (const [id, e] of this.entries) {
      if (wanted.has(id)) continue;
      e.source.stop();
      this.entries.delete(id);
    }
    const fresh: Source[] = [];
    for (const spec of specs) {
      const e = this.entries.get(spec.id);
      if (e) {
        e.spec = spec;
        continue;
      }
      const source = this.create(spec);
      this.entries.set(spec.id, { spec, source });
      fresh.push(source);
      source.start();
    }
    if (fresh.length === 0) return;
    const budget = Math.min(FIRST_ANSWER_CAP_MS, this.firstAnswerBudget());
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(fresh.map((s) => s.firstAnswer)),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, budget))),
    ]);
    clearTimeout(timer);
  }

  /** The running config: `file` with the sources' backends in place. */
  expand(file: Config): Config {
    return expandConfig(
      file,
      (spec) => this.entries.get(spec.id)?.source.set ?? [],
      (key, spec) =>
        this.hooks.notice({
          pool: spec.pool,
          source: sourceLabel(spec),
          what: 'refused',
          backend: key,
          detail: `${key} is already a backend of pool ${spec.pool}: the first one is kept`,
        }),
    );
  }

  /**
   * Count and report what an applied config changed on discovered backends:
   * one `added`, `removed` or `reweighted` notice per backend.
   */
  recordChanges(d: ConfigDiff): void {
    const count = (
      what: 'added' | 'removed' | 'reweighted',
      pool: string,
      b: { key: string; discovered: { sourceId: string } | null },
      detail: string,
    ): void => {
      if (b.discovered === null) return;
      const e = this.entries.get(b.discovered.sourceId);
      if (e) e.source.changes[what]++;
      const source = e ? e.source.label : 'gone';
      this.hooks.notice({ pool, source, what, backend: b.key, detail });
    };
    for (const { pool, backend: b } of d.backends.added)
      count('added', pool.name, b, `${b.address.text}, weight ${b.weight}${b.backup ? ', backup' : ''}`);
    for (const { pool, backend: b } of d.backends.removed)
      count('removed', pool.name, b, `${b.address.text} (its connections finish)`);
    for (const c of d.backends.changed) {
      const { before, after } = { before: c.before.backend, after: c.after.backend };
      const parts: string[] = [];
      if (before.weight !== after.weight) parts.push(`weight ${before.weight} -> ${after.weight}`);
      if (before.backup !== after.backup) parts.push(after.backup ? 'now a backup' : 'now a primary');
      if (before.maxConnections !== after.maxConnections)
        parts.push(`max_connections ${before.maxConnections} -> ${after.maxConnections}`);
      if ((before.discovered?.admin ?? null) !== (after.discovered?.admin ?? null))
        parts.push(`state ${after.discovered?.admin ?? 'left to the operator'}`);
      if (parts.length > 0) count('reweighted', c.after.pool.name, after, parts.join(', '));
    }
  }

  /** A running config's backends did not fit the table and were not applied (a `refused` notice, counted). */
  refused(reason: string): void {
    this.refusals++;
    this.hooks.notice({ pool: '*', source: 'discovery', what: 'refused', backend: null, detail: reason });
  }

  status(): SourceStatus[] {
    return [...this.entries.values()].map(({ spec, source: s }) => ({
      pool: spec.pool,
      kind: spec.kind,
      target: s.target,
      source: s.label,
      path: spec.path,
      state: s.state,
      backends: s.set.length,
      lastRefresh: s.lastRefresh,
      lastSuccess: s.lastSuccess,
      nextRefresh: s.nextRefresh,
      error: s.error,
      refreshes: s.refreshes,
      failures: { ...s.failures },
      changes: { ...s.changes },
    }));
  }

  /**
   * `set state|weight POOL/BACKEND ... --fleet`: write the change into the
   * backend's etcd entry, so that every instance watching its prefix applies it
   * (this one included, through its own watch). `sourceId` and `name` come from
   * the running config's backend. Throws E_BAD_ARGUMENT for a backend not from
   * etcd, and what writeEntry throws.
   */
  async writeFleet(
    backend: string,
    from: { sourceId: string } | null,
    name: string,
    patch: { state?: AdminStateName; weight?: number },
  ): Promise<void> {
    const e = from === null ? undefined : this.entries.get(from.sourceId);
    if (e === undefined || !(e.source instanceof EtcdSource) || this.etcd === null) {
      throw new NetmonError(
        'E_BAD_ARGUMENT',
        `${backend} does not come from etcd: --fleet changes only backends of a pool with etcd_prefix`,
      );
    }
    await writeEntry(this.etcd, e.source.keyOf(name), name, patch);
  }

  stop(): void {
    this.stopped = true;
    for (const e of this.entries.values()) e.source.stop();
    this.entries.clear();
    this.dnsClient?.cancel?.();
    this.dnsClient = null;
    const etcd = this.etcd;
    this.etcd = null;
    etcd?.close();
  }

  /** [resolvers] and [etcd] of a new config: a changed section gets a new client; etcd sources start over on it. */
  private async takeSettings(file: Config): Promise<void> {
    if (this.dnsClient === null || JSON.stringify(file.resolvers) !== JSON.stringify(this.resolvers)) {
      this.dnsClient?.cancel?.();
      this.resolvers = file.resolvers;
      this.dnsClient = (this.hooks.dns ?? ((c) => new DnsClient(c)))(file.resolvers);
    }
    if (this.etcdCfg !== null && JSON.stringify(file.etcd) === JSON.stringify(this.etcdCfg)) return;
    for (const [id, e] of this.entries) {
      if (e.spec.kind !== 'etcd') continue;
      e.source.stop();
      this.entries.delete(id);
    }
    this.etcd?.close();
    this.etcd = null;
    this.etcdCfg = file.etcd;
    if (file.etcd.endpoints.length > 0) {
      const client = await createEtcdClient(file.etcd);
      // stopped while the package loaded: nothing may be left open
      if (this.stopped) client.close();
      else this.etcd = client;
    }
  }

  private create(spec: SourceSpec): Source {
    const hooks = {
      now: this.hooks.now,
      changed: () => this.hooks.changed(),
      notice: (n: SourceNotice) =>
        this.hooks.notice({
          pool: spec.pool,
          source: sourceLabel(spec),
          what: n.what,
          backend: null,
          detail: n.detail,
        }),
    };
    const dnsCtx: DnsContext = { dns: () => this.dnsClient!, resolvers: () => this.resolvers };
    switch (spec.kind) {
      case 'dns':
        return new AddressSource(spec.target, spec.port, hooks, dnsCtx);
      case 'srv':
        return new SrvSource(spec.target, hooks, dnsCtx);
      case 'etcd':
        return new EtcdSource(spec.target, hooks, { client: () => this.etcd!, retryMax: () => this.etcdCfg!.retryMax });
    }
  }

  /** How long a first answer may take: a DNS timeout (all tries) or an etcd read, plus a little. */
  private firstAnswerBudget(): number {
    const dns = this.resolvers.timeouts.retry * this.resolvers.resolveRetries * 2;
    const etcd = (this.etcdCfg?.timeout ?? 0) * 2;
    return Math.max(dns, etcd) + 250;
  }
}
