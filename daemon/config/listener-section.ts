// [[listener]]: bind address, pool, limits and the edge (ACL, PROXY protocol in,
// peek-based routes, per-source limits). Returns a fully defaulted ListenerConfig.
import { parseIp } from '../net/ip.js';
import { PROXY_PROTOCOL_MODES } from './schema.js';
import { ROUTE_PROTOCOLS } from '../state/names.js';
import type { EdgeConfig, ListenerConfig, RouteConfig, SourceLimits } from './schema.js';
import type { Section } from './reader.js';
import { DEFAULT_INSPECT_BYTES } from './defaults.js';

export const LISTENER_KEYS = [
  'name',
  'bind',
  'pool',
  'max_connections',
  'backlog',
  'timeouts',
  'proxy_protocol',
  'trusted_proxies',
  'allow',
  'deny',
  'inspect_delay',
  'inspect_bytes',
  'route',
  'source_limits',
] as const;
const TIMEOUT_KEYS = ['client_idle'] as const;
const ROUTE_KEYS = ['sni', 'protocol', 'pool'] as const;
const SOURCE_LIMIT_KEYS = ['max_connections', 'rate', 'burst', 'prefix_v4', 'prefix_v6', 'table_size'] as const;
// a wildcard is one leading "*." label; names are compared in lower case
const SNI = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

export function readListener(s: Section): ListenerConfig {
  const bind = s.address('bind', { allowName: false, allowPortZero: true }, true);
  return {
    name: s.name('name') ?? '',
    bind: bind ?? { host: '', port: 0, text: '' },
    pool: poolRef(s),
    maxConnections: s.int('max_connections', 0, { min: 0, max: 10_000_000 }),
    backlog: s.int('backlog', 511, { min: 1, max: 65535 }),
    timeouts: { clientIdle: s.section('timeouts', TIMEOUT_KEYS).duration('client_idle', 0) },
    edge: readEdge(s),
  };
}

function readEdge(s: Section): EdgeConfig {
  const proxyProtocol = s.oneOf('proxy_protocol', PROXY_PROTOCOL_MODES, 'off');
  const trustedProxies = s.cidrList('trusted_proxies');
  // entries that could not be read are reported as such (E_CIDR), not as a missing list
  const written = s.raw['trusted_proxies'];
  if (proxyProtocol !== 'off' && !(Array.isArray(written) && written.length > 0)) {
    s.error(
      'trusted_proxies',
      'E_CONFLICT',
      `proxy_protocol = "${proxyProtocol}" needs trusted_proxies: a PROXY header is taken only from those sources`,
    );
  }
  const routes = s.tables('route', ROUTE_KEYS, 'listener.route').flatMap((r) => readRoute(r) ?? []);
  const inspectDelay = s.duration('inspect_delay', routes.length > 0 ? 1000 : 0, { max: 60_000 });
  if (routes.length > 0 && inspectDelay === 0) {
    s.error('inspect_delay', 'E_CONFLICT', 'routes need the first bytes: inspect_delay must be above 0');
  }
  return {
    proxyProtocol,
    trustedProxies,
    allow: s.cidrList('allow'),
    deny: s.cidrList('deny'),
    inspectDelay,
    inspectBytes: s.size('inspect_bytes', DEFAULT_INSPECT_BYTES, { min: 16, max: 65536 }),
    routes,
    sourceLimits: readSourceLimits(s.section('source_limits', SOURCE_LIMIT_KEYS)),
  };
}

/**
 * The pool a listener or route sends to: required; "" is E_MISSING_POOL here, and
 * a name no [pool.NAME] defines is E_MISSING_POOL in load.ts's cross-check.
 */
function poolRef(s: Section): string {
  const v = s.optString('pool', true);
  if (v === '') s.error('pool', 'E_MISSING_POOL', 'pool "" names no pool: write the name of a [pool.NAME]');
  return v ?? '';
}

function readRoute(s: Section): RouteConfig | null {
  const pool = poolRef(s);
  if (s.has('sni') === s.has('protocol')) {
    s.error('', 'E_CONFLICT', 'a route matches exactly one of "sni" or "protocol"');
    return null;
  }
  if (s.has('protocol')) return { match: 'protocol', protocol: s.oneOf('protocol', ROUTE_PROTOCOLS, 'other'), pool };
  const sni = (s.optString('sni') ?? '').toLowerCase();
  if (parseIp(sni) !== null) {
    s.error('sni', 'E_TYPE', `"${sni}" is an IP address: a ClientHello never names one (RFC 6066 section 3)`);
    return null;
  }
  if (sni.length > 253 || !SNI.test(sni)) {
    s.error(
      'sni',
      'E_TYPE',
      `"${sni}" is not a server name ("api.example.com") or a one-label wildcard ("*.example.com")`,
    );
    return null;
  }
  return { match: 'sni', sni, pool };
}

function readSourceLimits(s: Section): SourceLimits {
  const rate = s.number('rate', 0, { min: 0, max: 1_000_000 });
  const burst = s.int('burst', 0, { min: 0, max: 1_000_000 });
  return {
    maxConnections: s.int('max_connections', 0, { min: 0, max: 1_000_000 }),
    rate,
    burst: burst === 0 ? Math.max(1, Math.ceil(rate)) : burst,
    prefixV4: s.int('prefix_v4', 32, { min: 0, max: 32 }),
    prefixV6: s.int('prefix_v6', 64, { min: 0, max: 128 }),
    tableSize: s.int('table_size', 65536, { min: 16, max: 10_000_000 }),
  };
}
