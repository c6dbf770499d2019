// Which discovery sources a config asks for, and the running config they make:
// the file's config with every discovery source replaced by the backends it
// found. Backends written with an IP address are kept as they are; a backend
// written with a name or an SRV name becomes one backend per address found,
// named "<name>#<ip>:<port>" (web/app#10.0.0.7:8080); a pool's own source names
// its backends after the name it asks ("web/app.internal#10.0.0.7:8080"), or,
// for etcd, after each key. A name stays the same across refreshes, reloads and
// netmon instances for the same address, so a backend keeps its slot and its
// counters while the address stays in the answer (and a consistent hash keyed
// by it picks the same backend everywhere).
import { isHostName } from '../../config/address.js';
import type { BackendConfig, Config, PoolConfig } from '../../config/schema.js';
import type { Found, SourceKind } from './source.js';

/** One source as the config asks for it. */
export interface SourceSpec {
  /** unique over the config, stable across reloads while the source is asked the same */
  id: string;
  /** the key that asks for it: "pool.web.address", "pool.web.backend[2].srv" */
  path: string;
  pool: string;
  kind: SourceKind;
  /** "app.internal" (dns), "_app._tcp.internal" (srv), "/netmon/web/" (etcd) */
  target: string;
  /** dns: the port every address gets; 0 otherwise */
  port: number;
  /** what its backends' names start with; "" for etcd (each key names its backend) */
  name: string;
  /** the settings its backends take where the source does not say */
  weight: number;
  maxConnections: number;
  backup: boolean;
}

/** The sources of `config`, pool by pool, in file order (a pool's own source last). */
export function sourceSpecs(config: Config): SourceSpec[] {
  const out: SourceSpec[] = [];
  for (const p of config.pools) {
    p.backends.forEach((b, i) => {
      const s = backendSpec(p, b, i);
      if (s !== null) out.push(s);
    });
    const own = poolSpec(p);
    if (own !== null) out.push(own);
  }
  return out;
}

function spec(
  path: string,
  pool: string,
  kind: SourceKind,
  target: string,
  port: number,
  name: string,
  b?: BackendConfig,
): SourceSpec {
  return {
    id: [pool, name, kind, target, port].join('|'),
    path,
    pool,
    kind,
    target,
    port,
    name,
    weight: b?.weight ?? 1,
    maxConnections: b?.maxConnections ?? 0,
    backup: b?.backup ?? false,
  };
}

function backendSpec(p: PoolConfig, b: BackendConfig, i: number): SourceSpec | null {
  const at = `pool.${p.name}.backend[${i}]`;
  if (b.srv !== null) return spec(`${at}.srv`, p.name, 'srv', b.srv, 0, b.name, b);
  if (isHostName(b.address.host)) {
    return spec(`${at}.address`, p.name, 'dns', b.address.host, b.address.port, b.name, b);
  }
  return null;
}

function poolSpec(p: PoolConfig): SourceSpec | null {
  const at = `pool.${p.name}`;
  if (p.address !== null) return spec(`${at}.address`, p.name, 'dns', p.address.host, p.address.port, p.address.host);
  if (p.srv !== null) return spec(`${at}.srv`, p.name, 'srv', p.srv, 0, p.srv);
  if (p.etcdPrefix !== null) return spec(`${at}.etcd_prefix`, p.name, 'etcd', p.etcdPrefix, 0, '');
  return null;
}

/** What each source calls itself in `show pools`, events and metrics: "dns app.internal:8080". */
export function sourceLabel(s: SourceSpec): string {
  return s.kind === 'dns' ? `dns ${s.target}:${s.port}` : `${s.kind} ${s.target}`;
}

/**
 * The running config: `file` with each source's backends in place of what asked
 * for them. `found(spec)` is the source's last good set ([] before its first
 * answer). A name met twice in a pool is taken once (the first) and reported
 * through `duplicate`.
 */
export function expandConfig(
  file: Config,
  found: (s: SourceSpec) => readonly Found[],
  duplicate: (key: string, spec: SourceSpec) => void = () => undefined,
): Config {
  const specs = new Map(sourceSpecs(file).map((s) => [s.id, s]));
  const specOf = (p: PoolConfig, b: BackendConfig | null, i = 0): SourceSpec | null => {
    const s = b === null ? poolSpec(p) : backendSpec(p, b, i);
    return s === null ? null : specs.get(s.id)!;
  };
  const pools = file.pools.map((p): PoolConfig => {
    const backends: BackendConfig[] = [];
    const keys = new Set<string>();
    const add = (b: BackendConfig, from: SourceSpec | null): void => {
      if (keys.has(b.key)) {
        if (from !== null) duplicate(b.key, from);
        return;
      }
      keys.add(b.key);
      backends.push(b);
    };
    p.backends.forEach((b, i) => {
      const s = specOf(p, b, i);
      if (s === null) add(b, null);
      else for (const f of found(s)) add(discovered(s, f), s);
    });
    const own = specOf(p, null);
    if (own !== null) for (const f of found(own)) add(discovered(own, f), own);
    return { ...p, backends };
  });
  return { ...file, pools };
}

function discovered(s: SourceSpec, f: Found): BackendConfig {
  const name = s.kind === 'etcd' ? f.id : `${s.name}#${f.id}`;
  return {
    name,
    key: `${s.pool}/${name}`,
    address: { host: f.ip, port: f.port, text: f.ip.includes(':') ? `[${f.ip}]:${f.port}` : `${f.ip}:${f.port}` },
    srv: null,
    weight: f.weight ?? s.weight,
    maxConnections: f.maxConnections ?? s.maxConnections,
    backup: s.backup || f.backup,
    discovered: { source: sourceLabel(s), host: f.host, admin: f.admin, sourceId: s.id },
  };
}
