// DNS sources: a name whose A/AAAA records are backends (`address = "name:port"`)
// and an SRV name whose targets are (`srv = "_app._tcp.internal"`). Each asks in
// the background on the main thread, again when the answer's TTL runs out
// (raised to timeout.resolve, cut to hold.valid), and keeps its last good set
// through failures for the hold time of the failure's kind (HAProxy `hold
// nx|timeout|refused`, counted from the last good answer); past it, the set is
// dropped. A connection never waits for any of this: workers only connect to
// addresses already in their plan.
import type { ResolversConfig } from '../../config/schema.js';
import { ResolveError, type AddressRecord, type Dns, type SrvRecord } from './dns-client.js';
import { ipPort, Source, type Found, type SourceHooks } from './source.js';

/** What a DNS source needs besides its hooks: the current client and [resolvers] (a reload may replace both). */
export interface DnsContext {
  dns(): Dns;
  resolvers(): ResolversConfig;
}

interface Answer {
  found: Found[];
  /** seconds until the answer should be asked again; null = unknown (the system resolver) */
  ttl: number | null;
}

abstract class DnsBase extends Source {
  private timer: NodeJS.Timeout | null = null;
  private inFlight = false;

  constructor(
    kind: 'dns' | 'srv',
    target: string,
    hooks: SourceHooks,
    protected readonly ctx: DnsContext,
  ) {
    super(kind, target, hooks);
  }

  protected abstract ask(dns: Dns): Promise<Answer>;

  start(): void {
    void this.refresh();
  }

  override stop(): void {
    super.stop();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Ask now (a test, or `start`); one question at a time per source. */
  async refresh(): Promise<void> {
    if (this.stopped || this.inFlight) return;
    this.inFlight = true;
    const cfg = this.ctx.resolvers();
    let next: number;
    try {
      const a = await this.ask(this.ctx.dns());
      if (this.stopped) return;
      this.succeeded(a.found);
      next = a.ttl === null ? cfg.hold.valid : Math.min(cfg.hold.valid, Math.max(cfg.timeouts.resolve, a.ttl * 1000));
    } catch (err) {
      if (this.stopped) return;
      const e = err instanceof ResolveError ? err : new ResolveError('refused', 'EUNKNOWN', String(err));
      if (e.code === 'ECANCELLED') {
        // a reload replaced [resolvers] under this question: not a failure, ask the new servers
        this.schedule(0);
        return;
      }
      this.failed(e.kind, e.message);
      const held = this.hooks.now() - (this.lastSuccess ?? this.hooks.now());
      if (this.lastSuccess !== null && held >= cfg.hold[e.kind]) this.expire(e.kind, held);
      next = cfg.timeouts.resolve;
    } finally {
      this.inFlight = false;
    }
    this.schedule(next);
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped) return;
    this.nextRefresh = this.hooks.now() + ms;
    this.timer = setTimeout(() => void this.refresh(), ms);
    // a refresh timer alone does not keep the process up
    this.timer.unref();
  }
}

/** `address = "app.internal:8080"`: one backend per address of the name, on the configured port. */
export class AddressSource extends DnsBase {
  constructor(
    readonly host: string,
    readonly port: number,
    hooks: SourceHooks,
    ctx: DnsContext,
  ) {
    super('dns', `${host}:${port}`, hooks, ctx);
  }

  protected async ask(dns: Dns): Promise<Answer> {
    const rs = await dns.addresses(this.host);
    return { found: dedupe(rs.map((r) => found(r, this.port, this.host, null, false))), ttl: minTtl(rs) };
  }
}

/**
 * `srv = "_app._tcp.internal"`: one backend per address of each target, on the
 * record's port. The lowest priority value is the primary tier and every higher
 * one a backup (netmon has one backup tier); weights 0..65535 become 1..256
 * (RFC 2782: weight 0 gets a very small share, here the smallest weight, 1).
 * node:dns does not give an SRV record's TTL: the set is asked again at the
 * TTL of its targets' addresses, within the same bounds.
 */
export class SrvSource extends DnsBase {
  constructor(
    readonly service: string,
    hooks: SourceHooks,
    ctx: DnsContext,
  ) {
    super('srv', service, hooks, ctx);
  }

  protected async ask(dns: Dns): Promise<Answer> {
    const records = (await dns.srv(this.service)).filter((r) => r.name !== '' && r.name !== '.');
    if (records.length === 0)
      throw new ResolveError('nx', 'ENODATA', `${this.service}: the service is not offered (target ".")`);
    // lowest priority first, then heaviest: a duplicate address keeps its best record
    records.sort((a, b) => a.priority - b.priority || b.weight - a.weight);
    const primary = records[0]!.priority;
    const scale = srvWeightScale(records);
    const targets = [...new Set(records.map((r) => r.name.toLowerCase()))];
    const answers = await Promise.all(targets.map((t) => targetAddresses(dns, t)));
    const byTarget = new Map(targets.map((t, i) => [t, answers[i]!]));
    const out: Found[] = [];
    let ttl: number | null = null;
    for (const r of records) {
      const rs = byTarget.get(r.name.toLowerCase())!;
      for (const a of rs) out.push(found(a, r.port, r.name.toLowerCase(), scale(r), r.priority > primary));
      const t = minTtl(rs);
      if (t !== null) ttl = ttl === null ? t : Math.min(ttl, t);
    }
    if (out.length === 0) throw new ResolveError('nx', 'ENODATA', `${this.service}: no target has an address`);
    return { found: dedupe(out), ttl };
  }
}

/** A target's addresses; a target that does not exist is skipped (its record points nowhere), other failures fail the refresh. */
async function targetAddresses(dns: Dns, target: string): Promise<AddressRecord[]> {
  try {
    return await dns.addresses(target);
  } catch (err) {
    if (err instanceof ResolveError && err.kind === 'nx') return [];
    throw err;
  }
}

/** SRV weight -> netmon weight 1..256: kept when the largest is at most 256, scaled down otherwise. */
export function srvWeightScale(records: readonly SrvRecord[]): (r: SrvRecord) => number {
  const max = Math.max(...records.map((r) => r.weight));
  if (max <= 256) return (r) => Math.max(1, r.weight);
  return (r) => Math.max(1, Math.round((r.weight * 256) / max));
}

function found(r: AddressRecord, port: number, host: string, weight: number | null, backup: boolean): Found {
  return { id: ipPort(r.address, port), ip: r.address, port, weight, backup, maxConnections: null, admin: null, host };
}

/** The first of each address:port (answers may repeat one through two targets). */
function dedupe(list: Found[]): Found[] {
  const seen = new Set<string>();
  return list.filter((f) => !seen.has(f.id) && seen.add(f.id) !== undefined);
}

function minTtl(rs: readonly AddressRecord[]): number | null {
  let t: number | null = null;
  for (const r of rs) if (r.ttl !== null) t = t === null ? r.ttl : Math.min(t, r.ttl);
  return t;
}
