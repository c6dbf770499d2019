// The one difference between two validated configs that a reload applies (the
// first config is a diff from nothing). Listeners and pools are matched by
// name, backends by "pool/name"; everything else is a setting. Every change is
// named by its key path in the file's own spelling, by name instead of array
// index, so it survives a reordering: `listener.main.bind`,
// `pool.web.timeouts.connect`, `pool.web.backend.b1.weight`, `log.level`.
// Each part of the daemon applies its own share: table slots (topology.ts), health checks,
// the workers' plan, adaptive, alerts, per-source tables.
import type { BackendConfig, Config, ListenerConfig, PoolConfig } from '../../config/schema.js';

/** One changed value. */
export interface KeyChange {
  /** key path, e.g. "pool.web.timeouts.connect" */
  path: string;
  before: unknown;
  after: unknown;
}

/** An item present before and after whose own keys changed. */
export interface Changed<T> {
  name: string;
  before: T;
  after: T;
  /** what changed, key paths relative to the item ("timeouts.connect", "health.interval") */
  keys: KeyChange[];
}

interface Delta<T> {
  added: T[];
  removed: T[];
  changed: Changed<T>[];
}

/** A backend with its pool (the pool holds the settings its connections and checks use). */
interface BackendEntry {
  pool: PoolConfig;
  backend: BackendConfig;
}

export interface ConfigDiff {
  /** null for the first config */
  readonly prev: Config | null;
  readonly next: Config;
  readonly listeners: Delta<ListenerConfig>;
  /** a pool's own keys only: its backends are in `backends` */
  readonly pools: Delta<PoolConfig>;
  /** by "pool/name"; `name` of a Changed entry is the key */
  readonly backends: Delta<BackendEntry>;
  /** top-level keys: workers, control, metrics, log, limits, drain_timeout, max_connections, alerts */
  readonly settings: KeyChange[];
}

/** Every changed key path of `d`, in file order of sections; added and removed items by their own path. */
export function changedKeys(d: ConfigDiff): string[] {
  const out: string[] = d.settings.map((k) => k.path);
  const items = <T>(prefix: string, delta: Delta<T>, name: (t: T) => string): void => {
    for (const t of delta.added) out.push(`${prefix}.${name(t)}`);
    for (const t of delta.removed) out.push(`${prefix}.${name(t)}`);
    for (const c of delta.changed) for (const k of c.keys) out.push(`${prefix}.${c.name}.${k.path}`);
  };
  items('listener', d.listeners, (l) => l.name);
  items('pool', d.pools, (p) => p.name);
  const backend = (key: string): string => key.replace('/', '.backend.');
  for (const b of d.backends.added) out.push(`pool.${backend(b.backend.key)}`);
  for (const b of d.backends.removed) out.push(`pool.${backend(b.backend.key)}`);
  for (const c of d.backends.changed) for (const k of c.keys) out.push(`pool.${backend(c.name)}.${k.path}`);
  return out;
}

/** Whether a Changed item's key `path` (or anything under it) changed. */
export function touches(c: Changed<unknown>, ...paths: string[]): boolean {
  return c.keys.some((k) => paths.some((p) => k.path === p || k.path.startsWith(p + '.')));
}

export function diffConfigs(prev: Config | null, next: Config): ConfigDiff {
  const backends = (c: Config | null): BackendEntry[] =>
    (c?.pools ?? []).flatMap((pool) => pool.backends.map((backend) => ({ pool, backend })));
  return {
    prev,
    next,
    listeners: delta(prev?.listeners ?? [], next.listeners, (l) => l.name, LISTENER_SKIP),
    pools: delta(prev?.pools ?? [], next.pools, (p) => p.name, POOL_SKIP),
    backends: delta(
      backends(prev),
      backends(next),
      (e) => e.backend.key,
      IDENTITY,
      (e) => e.backend,
    ),
    settings: prev === null ? [] : compare(prev, next, '', SETTINGS_SKIP),
  };
}

// keys that are not settings of their item: identity, its children, where it was read from
const IDENTITY = new Set(['name', 'key']);
const LISTENER_SKIP = IDENTITY;
const POOL_SKIP = new Set([...IDENTITY, 'backends']);
const SETTINGS_SKIP = new Set(['source', 'listeners', 'pools']);
// the config keeps the listener's edge settings in one object; the file has them on the listener
const FLATTEN = new Set(['edge']);
// field names whose file key is not their snake_case spelling
const FILE_KEY: Record<string, string> = { routes: 'route' };

function delta<T>(
  before: readonly T[],
  after: readonly T[],
  name: (t: T) => string,
  skip: ReadonlySet<string>,
  settings: (t: T) => unknown = (t) => t,
): Delta<T> {
  const old = new Map(before.map((t) => [name(t), t]));
  const now = new Set(after.map(name));
  const d: Delta<T> = { added: [], removed: [], changed: [] };
  for (const t of after) {
    const o = old.get(name(t));
    if (o === undefined) {
      d.added.push(t);
      continue;
    }
    const keys = compare(settings(o), settings(t), '', skip);
    if (keys.length > 0) d.changed.push({ name: name(t), before: o, after: t, keys });
  }
  for (const t of before) if (!now.has(name(t))) d.removed.push(t);
  return d;
}

/** The changed leaves between two values of the same shape, as key paths under `path`. */
function compare(a: unknown, b: unknown, path: string, skip: ReadonlySet<string> = new Set()): KeyChange[] {
  if (isLeaf(a) || isLeaf(b)) return same(a, b) ? [] : [{ path, before: a, after: b }];
  const out: KeyChange[] = [];
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  for (const k of new Set([...Object.keys(ao), ...Object.keys(bo)])) {
    if (skip.has(k) || typeof ao[k] === 'function' || typeof bo[k] === 'function') continue;
    const sub = FLATTEN.has(k) ? path : join(path, FILE_KEY[k] ?? snake(k));
    out.push(...compare(ao[k], bo[k], sub));
  }
  return out;
}

/** Values compared whole: primitives, arrays, regular expressions, and values written as text (addresses, CIDRs). */
function isLeaf(v: unknown): boolean {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof RegExp) return true;
  return typeof (v as { text?: unknown }).text === 'string';
}

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof RegExp || b instanceof RegExp) {
    return a instanceof RegExp && b instanceof RegExp && a.source === b.source && a.flags === b.flags;
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    return Number.isNaN(a) && Number.isNaN(b);
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  if (typeof ao.text === 'string' && typeof bo.text === 'string') return ao.text === bo.text;
  const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
  for (const k of keys) if (!same(ao[k], bo[k])) return false;
  return true;
}

function snake(k: string): string {
  return k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}
