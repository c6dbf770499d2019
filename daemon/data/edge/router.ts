// Peek-based routing for one listener with routes: from the first bytes a
// client sends, the protocol (for the metric and protocol routes) and, for TLS,
// the server name (for SNI routes). The bytes are only looked at, never changed.
import type { RouteConfig } from '../../config/schema.js';
import type { PeekMissReason, RouteProtocol } from '../../state/names.js';
import { parseClientHello } from './client-hello.js';
import { sniffFinal, sniffProtocol } from './sniff.js';

export interface PeekResult {
  /** null: the client sent nothing recognisable in time (counted as "unknown") */
  protocol: RouteProtocol | null;
  /** lower-cased server name from a TLS ClientHello, when there was one */
  sni: string | null;
  /**
   * on a listener with server-name routes, why the bytes gave no server name:
   * `not_tls` (another protocol), `bad_hello` (a TLS record that is no well-formed ClientHello); else null
   */
  miss: PeekMissReason | null;
}

interface CompiledRoute {
  kind: 'exact' | 'wildcard' | 'protocol';
  /** server name; for a wildcard, the suffix with its dot (".example.com") */
  value: string;
  pool: number;
}

export class Router {
  private readonly routes: CompiledRoute[] = [];
  /** whether any route needs the ClientHello parsed, not just the protocol */
  readonly wantsSni: boolean;
  /** bound once: readUntil calls it per chunk */
  readonly decide = (buf: Buffer): PeekResult | null => this.peek(buf);

  /**
   * @param routes first match wins, as in the config
   * @param poolSlot resolves a pool name to its slot (-1: unknown)
   * @throws Error when a route names a pool `poolSlot` does not know: the loader
   *   refuses such a config (E_MISSING_POOL), so this is a plan it did not make,
   *   and skipping the route would send its clients elsewhere
   */
  constructor(routes: readonly RouteConfig[], poolSlot: (name: string) => number) {
    for (const r of routes) {
      const pool = poolSlot(r.pool);
      if (pool < 0) throw new Error(`route to pool ${JSON.stringify(r.pool)}, which the plan does not hold`);
      if (r.match === 'protocol') this.routes.push({ kind: 'protocol', value: r.protocol, pool });
      else if (r.sni.startsWith('*.')) this.routes.push({ kind: 'wildcard', value: r.sni.slice(1), pool });
      else this.routes.push({ kind: 'exact', value: r.sni, pool });
    }
    this.wantsSni = this.routes.some((r) => r.kind !== 'protocol');
  }

  /** A decision from the bytes so far, or null to wait for more. */
  peek(buf: Buffer): PeekResult | null {
    const protocol = sniffProtocol(buf);
    if (protocol === null) return null;
    if (!this.wantsSni) return { protocol, sni: null, miss: null };
    if (protocol !== 'tls') return { protocol, sni: null, miss: 'not_tls' };
    const hello = parseClientHello(buf);
    if (hello.status === 'incomplete') return null;
    if (hello.status === 'invalid') return { protocol, sni: null, miss: 'bad_hello' };
    return { protocol, sni: hello.sni, miss: null };
  }

  /** The answer when no more bytes will come (limit, timeout, client FIN); the caller knows why. */
  final(buf: Buffer): PeekResult {
    return { protocol: sniffFinal(buf), sni: null, miss: null };
  }

  /** Pool slot of the first route that matches a peek result, or -1 (the listener's pool). */
  route(r: PeekResult): number {
    for (const route of this.routes) {
      if (route.kind === 'protocol') {
        if (r.protocol === route.value) return route.pool;
      } else if (r.sni !== null && matchName(r.sni, route)) {
        return route.pool;
      }
    }
    return -1;
  }
}

function matchName(sni: string, route: CompiledRoute): boolean {
  if (route.kind === 'exact') return sni === route.value;
  // one label only: "*.example.com" matches "a.example.com", not "a.b.example.com" nor "example.com"
  const label = sni.length - route.value.length;
  return label > 0 && sni.endsWith(route.value) && sni.lastIndexOf('.', label - 1) < 0;
}
