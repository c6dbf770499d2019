// The DNS questions discovery asks, on the main thread: the addresses of a name
// (A/AAAA with their TTLs) and the records of an SRV name. With [resolvers]
// nameservers, node:dns's Resolver (c-ares) asks them directly, with the query
// timeout and tries of the section; without, "the system's resolver": A/AAAA
// through getaddrinfo (so /etc/hosts and nsswitch count, but no TTL is seen) and
// SRV through the name servers of /etc/resolv.conf. Every failure is classified
// as HAProxy's resolvers do for their hold times: nx, timeout or refused.
import { promises as dns } from 'node:dns';
import type { Address, ResolversConfig } from '../../config/schema.js';

/** Why a resolution failed, by the hold time that applies to it ([resolvers] hold). */
export type FailureKind = 'nx' | 'timeout' | 'refused';

/** A resolution that gave no usable answer. `code` is the resolver's ("ENOTFOUND", "ETIMEOUT", ...). */
export class ResolveError extends Error {
  constructor(
    readonly kind: FailureKind,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ResolveError';
  }
}

export interface AddressRecord {
  /** an IP literal */
  address: string;
  family: 4 | 6;
  /** seconds, from the answer; null when the system resolver does not say */
  ttl: number | null;
}

export interface SrvRecord {
  /** the target host name ("." = the service is not offered, RFC 2782) */
  name: string;
  port: number;
  /** lower is preferred */
  priority: number;
  /** 0..65535, relative among records of one priority */
  weight: number;
}

/** What discovery sources ask; `DnsClient` answers it, a test may answer it too. */
export interface Dns {
  /** every address of `host` in the configured families; throws ResolveError (nx when there is none) */
  addresses(host: string): Promise<AddressRecord[]>;
  /** the SRV records of `name`; throws ResolveError (nx when there is none) */
  srv(name: string): Promise<SrvRecord[]>;
}

const NX_CODES = new Set(['ENOTFOUND', 'ENODATA', 'ENONAME']);
const TIMEOUT_CODES = new Set(['ETIMEOUT', 'EAI_AGAIN', 'ETIMEDOUT']);

function classify(err: unknown, what: string): ResolveError {
  if (err instanceof ResolveError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
  const kind: FailureKind = NX_CODES.has(code) ? 'nx' : TIMEOUT_CODES.has(code) ? 'timeout' : 'refused';
  return new ResolveError(kind, code, `${what}: ${code}`);
}

/** "ip:port" as dns.setServers takes it. */
function serverText(a: Address): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

export class DnsClient implements Dns {
  private readonly resolver: dns.Resolver;
  private readonly system: boolean;

  constructor(private readonly cfg: ResolversConfig) {
    // c-ares: `timeout` is the first query's wait (it grows on later tries), `tries` per server
    this.resolver = new dns.Resolver({ timeout: cfg.timeouts.retry, tries: cfg.resolveRetries });
    this.system = cfg.nameservers.length === 0;
    if (!this.system) this.resolver.setServers(cfg.nameservers.map(serverText));
  }

  async addresses(host: string): Promise<AddressRecord[]> {
    if (this.system) return this.lookup(host);
    const want = this.cfg.family;
    const [v4, v6] = await Promise.all([
      want === 'ipv6' ? [] : this.family(host, 4),
      want === 'ipv4' ? [] : this.family(host, 6),
    ]);
    const all = [...v4, ...v6];
    if (all.length === 0) throw new ResolveError('nx', 'ENODATA', `${host}: no ${recordTypes(want)} record`);
    return all;
  }

  /** One family's records; "no such name" and "no record of this type" are an empty answer here. */
  private async family(host: string, family: 4 | 6): Promise<AddressRecord[]> {
    try {
      const rs =
        family === 4
          ? await this.resolver.resolve4(host, { ttl: true })
          : await this.resolver.resolve6(host, { ttl: true });
      return rs.map((r) => ({ address: r.address, family, ttl: r.ttl }));
    } catch (err) {
      const e = classify(err, `${host} ${family === 4 ? 'A' : 'AAAA'}`);
      if (e.kind === 'nx') return [];
      throw e;
    }
  }

  /** getaddrinfo in the thread pool, bounded by the section's timeouts (it has none of its own). */
  private async lookup(host: string): Promise<AddressRecord[]> {
    const family = this.cfg.family === 'ipv4' ? 4 : this.cfg.family === 'ipv6' ? 6 : 0;
    const limit = this.cfg.timeouts.retry * this.cfg.resolveRetries;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ResolveError('timeout', 'ETIMEOUT', `${host}: no answer in ${limit} ms`)),
        limit,
      );
    });
    try {
      const rs = await Promise.race([dns.lookup(host, { all: true, family, order: 'ipv4first' }), timeout]);
      const out = rs
        .filter((r) => r.family === 4 || r.family === 6)
        .map((r) => ({ address: r.address, family: r.family as 4 | 6, ttl: null }));
      if (out.length === 0) throw new ResolveError('nx', 'ENODATA', `${host}: no address`);
      return out;
    } catch (err) {
      throw classify(err, host);
    } finally {
      clearTimeout(timer);
    }
  }

  async srv(name: string): Promise<SrvRecord[]> {
    try {
      const rs = await this.resolver.resolveSrv(name);
      if (rs.length === 0) throw new ResolveError('nx', 'ENODATA', `${name}: no SRV record`);
      return rs;
    } catch (err) {
      throw classify(err, `${name} SRV`);
    }
  }

  /** Abandon the queries in flight (a reload replaced the section, or the daemon stops): they fail with ECANCELLED. */
  cancel(): void {
    this.resolver.cancel();
  }
}

function recordTypes(f: ResolversConfig['family']): string {
  return f === 'ipv4' ? 'A' : f === 'ipv6' ? 'AAAA' : 'A or AAAA';
}
