// [resolvers] and [etcd]: where discovered backends come from (docs/discovery.md),
// and the SRV and etcd prefix values pools and backends name. Fully defaulted;
// problems go to `Issues`.
import { parseAddress } from './address.js';
import { DEFAULT_RESOLVERS } from './defaults.js';
import { RESOLVE_FAMILIES } from './schema.js';
import type { Address, EtcdConfig, ResolversConfig } from './schema.js';
import type { Section } from './reader.js';

export const RESOLVERS_KEYS = ['nameservers', 'family', 'resolve_retries', 'timeout', 'hold'] as const;
const RESOLVER_TIMEOUT_KEYS = ['resolve', 'retry'] as const;
const HOLD_KEYS = ['valid', 'nx', 'timeout', 'refused'] as const;
export const ETCD_KEYS = ['endpoints', 'timeout', 'retry_max', 'username', 'password'] as const;

const DAY_MS = 86_400_000;
// "_service._proto.name" (RFC 2782): two underscore labels, then a domain name
const SRV_NAME = /^_[a-z0-9-]{1,62}\._(tcp|udp|sctp)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+\.?$/i;

export function readResolvers(s: Section): ResolversConfig {
  const d = DEFAULT_RESOLVERS;
  const t = s.section('timeout', RESOLVER_TIMEOUT_KEYS);
  const h = s.section('hold', HOLD_KEYS);
  return {
    nameservers: readNameservers(s),
    family: s.oneOf('family', RESOLVE_FAMILIES, d.family),
    resolveRetries: s.int('resolve_retries', d.resolveRetries, { min: 1, max: 10 }),
    timeouts: {
      resolve: t.duration('resolve', d.timeouts.resolve, { min: 100, max: DAY_MS }),
      retry: t.duration('retry', d.timeouts.retry, { min: 10, max: 60_000 }),
    },
    hold: {
      valid: h.duration('valid', d.hold.valid, { min: 100, max: DAY_MS }),
      nx: h.duration('nx', d.hold.nx, { max: DAY_MS }),
      timeout: h.duration('timeout', d.hold.timeout, { max: DAY_MS }),
      refused: h.duration('refused', d.hold.refused, { max: DAY_MS }),
    },
  };
}

/** "ip" or "ip:port" ("[v6]:port"); port 53 when left out. Names are refused: a name server is found by address. */
function readNameservers(s: Section): Address[] {
  const v = s.raw['nameservers'];
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    s.error('nameservers', 'E_TYPE', 'expected an array of addresses such as ["127.0.0.1:53"]');
    return [];
  }
  const out: Address[] = [];
  v.forEach((item, i) => {
    const at = `${s.at('nameservers')}[${i}]`;
    if (typeof item !== 'string') {
      s.issues.add('E_TYPE', at, 'expected an address such as "127.0.0.1:53"');
      return;
    }
    const withPort = /^(\[.*\]|[^:]*)$/.test(item.trim()) ? `${item.trim()}:53` : item;
    const a = parseAddress(withPort, { allowName: false, allowPortZero: false });
    if (a.ok) out.push(a.address);
    else s.issues.add(a.code, at, a.reason.replace(' a bind address', ' a name server'));
  });
  return out;
}

export function readEtcd(s: Section): EtcdConfig {
  const endpoints: string[] = [];
  const v = s.raw['endpoints'];
  if (v !== undefined && !Array.isArray(v)) {
    s.error('endpoints', 'E_TYPE', 'expected an array of URLs such as ["http://127.0.0.1:2379"]');
  } else if (Array.isArray(v)) {
    v.forEach((item, i) => {
      const e = typeof item === 'string' ? endpoint(item) : null;
      if (e === null) {
        s.issues.add(
          'E_ADDRESS',
          `${s.at('endpoints')}[${i}]`,
          `expected "http://host:port" or "https://host:port", got ${JSON.stringify(item)}`,
        );
      } else endpoints.push(e);
    });
  }
  const username = s.string('username', '');
  const password = s.string('password', '');
  if ((username === '') !== (password === '')) {
    s.error(username === '' ? 'password' : 'username', 'E_CONFLICT', 'give both "username" and "password", or neither');
  }
  return {
    endpoints,
    timeout: s.duration('timeout', 2000, { min: 10, max: 60_000 }),
    retryMax: s.duration('retry_max', 2000, { min: 100, max: 300_000 }),
    username,
    password,
  };
}

/** A client URL as etcd3 takes it, or null: scheme http or https, a host, a port, nothing else. */
function endpoint(text: string): string | null {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return null;
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '' || u.port === '') return null;
  if (u.pathname !== '/' || u.search !== '' || u.hash !== '' || u.username !== '') return null;
  return `${u.protocol}//${u.host}`;
}

/** An SRV name such as "_app._tcp.internal", or an E_ADDRESS at `key`. */
export function readSrvName(s: Section, key: string): string | null {
  const v = s.optString(key);
  if (v === undefined) return null;
  if (!SRV_NAME.test(v) || v.length > 253) {
    s.error(key, 'E_ADDRESS', `"${v}" is not an SRV name such as "_app._tcp.example.internal"`);
    return null;
  }
  // one name with or without the root's dot, in any case (RFC 4343): one identity for its backends
  return (v.endsWith('.') ? v.slice(0, -1) : v).toLowerCase();
}

/** An etcd key prefix such as "/netmon/pools/web/": printable, ends with "/". */
export function readEtcdPrefix(s: Section, key: string): string | null {
  const v = s.optString(key);
  if (v === undefined) return null;
  if (!/^[\x21-\x7e]{1,512}$/.test(v) || !v.endsWith('/')) {
    s.error(key, 'E_ADDRESS', `"${v}" must be printable, without spaces, and end with "/" (e.g. "/netmon/pools/web/")`);
    return null;
  }
  return v;
}
