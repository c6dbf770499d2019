// One listener's edge, compiled once per config generation in each worker from
// the plan's typed values (ranges as bytes, routes with pool names): access
// control, PROXY protocol in, the bounded peek with its routes, and the
// per-source limiter. A listener with none of these has no ListenerEdge at all,
// so its accept path does not look at any of it. Compiling throws when the plan
// holds something it cannot apply; the worker then refuses the listener (fail
// closed) and reports it, and the start or reload fails loudly.
import type { EdgeConfig } from '../../config/schema.js';
import { Acl } from './acl.js';
import { IpRangeSet } from './range-set.js';
import { Router } from './router.js';
import { hasLimits, SourceLimiter, sourceQuota, type SourceContext } from './source-limits.js';

export class ListenerEdge {
  readonly acl: Acl | null;
  /** sources allowed to send a PROXY header; non-null exactly when PROXY protocol in is on */
  readonly trusted: IpRangeSet | null;
  readonly proxyMode: EdgeConfig['proxyProtocol'];
  /** non-null when routes choose the pool: the peek waits for the client's first bytes */
  readonly router: Router | null;
  /**
   * the listener counts protocols (inspect_delay above 0) but has no routes: nothing
   * waits, the relay reads the protocol from the first bytes either side sends
   */
  readonly watchesProtocol: boolean;
  readonly inspectDelay: number;
  readonly inspectBytes: number;
  /** per-source limits and the top-offender record (shared by all workers); null when neither limits nor an ACL is set */
  readonly sources: SourceLimiter | null;
  /** whether the limits in `sources` are enforced (otherwise it only records rejections) */
  readonly limited: boolean;
  /** whether anything must be read from the client before a backend is picked */
  readonly preamble: boolean;

  /**
   * @param poolSlot a pool name's slot in this plan, -1 when the plan has no such pool
   * @throws RangeError for a range that is not valid, Error for a route to a pool the plan lacks
   */
  constructor(
    readonly config: EdgeConfig,
    poolSlot: (name: string) => number,
    sources: SourceContext,
  ) {
    this.acl = Acl.of(config);
    this.proxyMode = config.proxyProtocol;
    this.trusted = config.proxyProtocol === 'off' ? null : new IpRangeSet(config.trustedProxies);
    this.inspectDelay = config.inspectDelay;
    this.inspectBytes = config.inspectBytes;
    const peeks = config.inspectDelay > 0;
    this.router = peeks && config.routes.length > 0 ? new Router(config.routes, poolSlot) : null;
    this.watchesProtocol = peeks && this.router === null;
    this.limited = hasLimits(config.sourceLimits);
    // the counts live in the shared table: they outlive this object across reloads
    const quota = sourceQuota(config);
    this.sources = quota > 0 ? new SourceLimiter(config.sourceLimits, sources, quota) : null;
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
