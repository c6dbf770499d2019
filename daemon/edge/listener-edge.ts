// One listener's edge, compiled once per config generation in each worker:
// access control, PROXY protocol in, the bounded peek with its routes, and the
// per-source table. A listener with none of these has no ListenerEdge at all,
// so its accept path does not look at any of it.
import type { EdgeConfig, SourceLimits } from '../config/schema.js';
import { Acl, compileAcl } from './acl.js';
import { CidrList } from './cidr.js';
import { Router } from './router.js';
import { SourceTable } from './source-limits.js';

export class ListenerEdge {
  readonly acl: Acl | null;
  /** sources allowed to send a PROXY header; non-null exactly when PROXY protocol in is on */
  readonly trusted: CidrList | null;
  readonly proxyMode: EdgeConfig['proxyProtocol'];
  /** non-null when the listener peeks at the first bytes (routes, protocol metric) */
  readonly router: Router | null;
  readonly inspectDelay: number;
  readonly inspectBytes: number;
  /** per-source limits and the top-offender record; null when neither limits nor an ACL is set */
  readonly sources: SourceTable | null;
  /** whether the limits in `sources` are enforced (otherwise it only records rejections) */
  readonly limited: boolean;
  /** whether anything must be read from the client before a backend is picked */
  readonly preamble: boolean;

  constructor(
    readonly config: EdgeConfig,
    poolSlot: (name: string) => number,
    previous: ListenerEdge | null,
  ) {
    const acl = compileAcl(
      config.allow.map((c) => c.text),
      config.deny.map((c) => c.text),
    );
    this.acl = acl.acl;
    this.proxyMode = config.proxyProtocol;
    this.trusted =
      config.proxyProtocol === 'off' ? null : CidrList.parse(config.trustedProxies.map((c) => c.text)).list;
    this.inspectDelay = config.inspectDelay;
    this.inspectBytes = config.inspectBytes;
    this.router = config.inspectDelay > 0 ? new Router(config.routes, poolSlot) : null;
    this.limited = hasLimits(config.sourceLimits);
    if (this.limited || this.acl !== null) {
      // keep the table across a reload with the same limits: open connections stay counted
      const prev = previous?.sources;
      this.sources = prev && sameLimits(prev.limits, config.sourceLimits) ? prev : new SourceTable(config.sourceLimits);
    } else {
      this.sources = null;
    }
    this.preamble = this.trusted !== null || this.router !== null;
  }

  /** Whether a listener with this config needs a ListenerEdge at all. */
  static wanted(c: EdgeConfig): boolean {
    return (
      c.proxyProtocol !== 'off' ||
      c.allow.length > 0 ||
      c.deny.length > 0 ||
      c.inspectDelay > 0 ||
      hasLimits(c.sourceLimits)
    );
  }
}

function hasLimits(l: SourceLimits): boolean {
  return l.maxConnections > 0 || l.rate > 0;
}

function sameLimits(a: SourceLimits, b: SourceLimits): boolean {
  return (
    a.maxConnections === b.maxConnections &&
    a.rate === b.rate &&
    a.burst === b.burst &&
    a.prefixV4 === b.prefixV4 &&
    a.prefixV6 === b.prefixV6 &&
    a.tableSize === b.tableSize
  );
}
