// TOML text -> validated, fully defaulted Config, or ConfigErrors listing every
// problem found (file, key path, line). Nothing downstream re-checks a field.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import toml from 'toml';
import { ConfigError, ConfigErrors } from '../errors.js';
import { addressKey, parseAddress } from './address.js';
import { DEFAULT_CONTROL_SOCKET, DEFAULT_METRICS_LISTEN } from './defaults.js';
import { LineLocator } from './locate.js';
import { Issues, Section, isTable } from './reader.js';
import { LISTENER_KEYS, readListener } from './listener-section.js';
import { POOL_KEYS, readPool } from './pool-section.js';
import { didYouMean } from './suggest.js';
import { ETCD_KEYS, RESOLVERS_KEYS, readEtcd, readResolvers } from './discovery-section.js';
import { LOG_LEVELS } from './schema.js';
import type { Address, AlertsConfig, Config, LimitsConfig, PoolConfig } from './schema.js';

const TOP_KEYS = [
  'workers',
  'control',
  'metrics',
  'log',
  'limits',
  'drain_timeout',
  'announce_drain',
  'max_connections',
  'alerts',
  'resolvers',
  'etcd',
  'listener',
  'pool',
] as const;
const ALERT_KEYS = [
  'interval',
  'for',
  'keep_firing_for',
  'latency_p95',
  'cpu_percent',
  'memory_bytes',
  'agent_cpu_percent',
  'agent_memory_percent',
  'spike_factor',
  'spike_min_rate',
  'baseline_window',
  'imbalance_cv',
  'imbalance_min_connections',
] as const;

/** a typo ("5m" for "5s") must not hold every stop for hours */
const MAX_ANNOUNCE_DRAIN_MS = 600_000;

export function loadConfigFile(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const e = new ConfigError('E_FILE_READ', '', (err as Error).message);
    e.file = path;
    throw new ConfigErrors([e]);
  }
  return parseConfig(text, path);
}

/** Parses and validates; throws ConfigErrors with every problem found. */
export function parseConfig(text: string, source: string): Config {
  let doc: unknown;
  try {
    doc = toml.parse(text);
  } catch (err) {
    throw new ConfigErrors([syntaxError(err, source)]);
  }
  const locator = new LineLocator(text);
  const issues = new Issues(source, (p) => locator.locate(p));
  const config = readConfig(Section.of(issues, '', doc, TOP_KEYS), source);
  if (issues.list.length > 0) {
    // in file order: an operator fixes them top to bottom
    throw new ConfigErrors(
      [...issues.list].sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity)),
      issues.omitted,
    );
  }
  return deepFreeze(config);
}

function syntaxError(err: unknown, source: string): ConfigError {
  const e = err as { message?: string; line?: number; location?: { start?: { line?: number; column?: number } } };
  const line = e.line ?? e.location?.start?.line;
  const out = new ConfigError('E_TOML_SYNTAX', '', `not valid TOML: ${e.message ?? String(err)}`, line);
  out.file = source;
  return out;
}

function readConfig(top: Section, source: string): Config {
  const control = top.section('control', ['socket']);
  const metrics = top.section('metrics', ['listen']);
  const log = top.section('log', ['level', 'access']);
  const limits = readLimits(top.section('limits', ['max_listeners', 'max_pools', 'max_backends']));
  const config: Config = {
    source,
    workers: top.int('workers', Math.min(availableParallelism(), 64), { min: 1, max: 64 }),
    control: { socket: control.string('socket', DEFAULT_CONTROL_SOCKET) },
    metrics: { listen: readMetricsListen(metrics) },
    log: { level: log.oneOf('level', LOG_LEVELS, 'info'), access: log.bool('access', false) },
    limits,
    drainTimeout: top.duration('drain_timeout', 30_000),
    announceDrain: top.duration('announce_drain', 0, { max: MAX_ANNOUNCE_DRAIN_MS }),
    maxConnections: top.int('max_connections', 0, { min: 0, max: 10_000_000 }),
    alerts: readAlerts(top.section('alerts', ALERT_KEYS)),
    resolvers: readResolvers(top.section('resolvers', RESOLVERS_KEYS)),
    etcd: readEtcd(top.section('etcd', ETCD_KEYS)),
    listeners: top.tables('listener', LISTENER_KEYS, 'listener').map(readListener),
    pools: readPools(top),
  };
  if (config.control.socket === '') {
    control.error('socket', 'E_SOCKET_PATH', 'the control socket path must not be empty');
  } else if (Buffer.byteLength(config.control.socket) > 107) {
    control.error('socket', 'E_SOCKET_PATH', 'a Unix socket path is at most 107 bytes on Linux');
  }
  crossCheck(top, config);
  return config;
}

/** [metrics] listen: "" or "off" turns the port off; the default goes through the same parser. */
function readMetricsListen(s: Section): Address | null {
  const text = s.string('listen', DEFAULT_METRICS_LISTEN);
  if (text === '' || text === 'off') return null;
  const a = parseAddress(text, { allowName: false, allowPortZero: true });
  if (a.ok) return a.address;
  s.error('listen', a.code, a.reason);
  return null;
}

function readPools(top: Section): PoolConfig[] {
  const raw = top.raw['pool'];
  if (raw === undefined) return [];
  if (!isTable(raw)) {
    top.error('pool', 'E_TYPE', 'expected tables: write [pool.NAME] sections');
    return [];
  }
  const pools = top.section('pool', Object.keys(raw));
  return Object.keys(raw).map((name) => {
    const s = pools.section(name, POOL_KEYS);
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(name)) {
      s.error(
        '',
        'E_NAME',
        `pool name ${JSON.stringify(name)} must be 1..64 of A-Z a-z 0-9 _ - and start with a letter or digit`,
      );
    }
    return readPool(name, s);
  });
}

function readLimits(s: Section): LimitsConfig {
  return {
    maxListeners: s.int('max_listeners', 32, { min: 1, max: 1024 }),
    maxPools: s.int('max_pools', 64, { min: 1, max: 4096 }),
    maxBackends: s.int('max_backends', 1024, { min: 1, max: 65536 }),
  };
}

function readAlerts(s: Section): AlertsConfig {
  return {
    interval: s.duration('interval', 5000, { min: 100 }),
    for: s.duration('for', 10_000),
    keepFiringFor: s.duration('keep_firing_for', 30_000),
    latencyP95: s.duration('latency_p95', 200),
    cpuPercent: s.number('cpu_percent', 90, { min: 0 }),
    memoryBytes: s.int('memory_bytes', 1024 * 1024 * 1024, { min: 0 }),
    agentCpuPercent: s.number('agent_cpu_percent', 90, { min: 0, max: 100 }),
    agentMemoryPercent: s.number('agent_memory_percent', 90, { min: 0, max: 100 }),
    spikeFactor: s.number('spike_factor', 3, { min: 0 }),
    spikeMinRate: s.number('spike_min_rate', 20, { min: 0 }),
    baselineWindow: s.duration('baseline_window', 300_000, { min: 1000 }),
    imbalanceCv: s.number('imbalance_cv', 0.5, { min: 0 }),
    imbalanceMinConnections: s.int('imbalance_min_connections', 100, { min: 0 }),
  };
}

/** Checks that span sections: names, binds, references, limits. */
function crossCheck(top: Section, c: Config): void {
  const err = (path: string, code: Parameters<Section['error']>[1], message: string): void =>
    top.issues.add(code, path, message);
  if (c.listeners.length === 0 && top.raw['listener'] === undefined) {
    err('listener', 'E_NO_LISTENERS', 'the config has no [[listener]]: nothing would accept connections');
  }
  const poolNames = c.pools.map((p) => p.name);
  const listenerNames = new Map<string, number>();
  const binds = new Map<string, number>();
  c.listeners.forEach((l, i) => {
    const at = `listener[${i}]`;
    if (l.name !== '') {
      const first = listenerNames.get(l.name);
      if (first !== undefined)
        err(`${at}.name`, 'E_DUPLICATE_NAME', `listener "${l.name}" is already defined as listener[${first}]`);
      else listenerNames.set(l.name, i);
    }
    if (l.bind.text !== '' && l.bind.port !== 0) {
      const key = addressKey(l.bind);
      const first = binds.get(key);
      if (first !== undefined)
        err(`${at}.bind`, 'E_DUPLICATE_BIND', `${l.bind.text} is already bound by listener[${first}]`);
      else binds.set(key, i);
    }
    const refs: [string, string][] = [[`${at}.pool`, l.pool]];
    l.edge.routes.forEach((r, j) => refs.push([`${at}.route[${j}].pool`, r.pool]));
    for (const [path, pool] of refs) {
      if (pool !== '' && !poolNames.includes(pool)) {
        const known = poolNames.length ? ` (pools: ${poolNames.join(', ')})` : ' (no [pool.NAME] is defined)';
        err(path, 'E_MISSING_POOL', `pool "${pool}" does not exist${didYouMean(pool, poolNames) || known}`);
      }
    }
  });
  let backends = 0;
  for (const p of c.pools) {
    const at = `pool.${p.name}`;
    const poolSource = p.address !== null || p.srv !== null || p.etcdPrefix !== null;
    if (p.backends.length === 0 && !poolSource) {
      err(at, 'E_EMPTY_POOL', `pool "${p.name}" has no [[pool.${p.name}.backend]] and no address, srv or etcd_prefix`);
    }
    if (p.etcdPrefix !== null && c.etcd.endpoints.length === 0) {
      err(`${at}.etcd_prefix`, 'E_REQUIRED', 'a pool with etcd_prefix needs [etcd] endpoints');
    }
    const seen = new Map<string, number>();
    p.backends.forEach((b, i) => {
      if (b.name === '') return;
      const first = seen.get(b.name);
      if (first !== undefined) {
        err(
          `${at}.backend[${i}].name`,
          'E_DUPLICATE_NAME',
          `backend "${b.name}" is already defined as ${at}.backend[${first}]`,
        );
      } else seen.set(b.name, i);
    });
    if (!poolSource && p.backends.length > 0 && p.backends.every((b) => b.backup)) {
      err(`${at}.backend`, 'E_CONFLICT', `every backend of pool "${p.name}" is a backup: at least one must be primary`);
    }
    backends += p.backends.length;
  }
  const over = (what: string, n: number, max: number, key: string): void => {
    if (n > max) err(`limits.${key}`, 'E_LIMIT', `${n} ${what} exceed limits.${key} = ${max}`);
  };
  over('listeners', c.listeners.length, c.limits.maxListeners, 'max_listeners');
  over('pools', c.pools.length, c.limits.maxPools, 'max_pools');
  over('backends', backends, c.limits.maxBackends, 'max_backends');
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !(o instanceof RegExp) && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
