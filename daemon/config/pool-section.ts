// [pool.NAME]: algorithm, retries, timeouts, health check, passive ejection and
// the backends. Returns a fully defaulted PoolConfig; problems go to `Issues`.
import { ALGORITHMS, HEALTH_TYPES, RETRY_CONDITIONS, SEND_PROXY_MODES } from './schema.js';
import type { AdaptiveTiming, BackendConfig, HealthCheck, PassiveHealth, PoolConfig, PoolTimeouts } from './schema.js';
import type { Section } from './reader.js';
import { isHostName } from './address.js';
import { MAX_DURATION_MS } from './duration.js';
import { DEFAULT_ADAPTIVE, DEFAULT_HEALTH, DEFAULT_PASSIVE, DEFAULT_RETRY_BUFFER } from './defaults.js';
import { readEtcdPrefix, readSrvName } from './discovery-section.js';

export const POOL_KEYS = [
  'algorithm',
  'retries',
  'retry_on',
  'retry_buffer',
  'slow_start',
  'timeouts',
  'health',
  'passive',
  'queue_size',
  'send_proxy',
  'adaptive',
  'critical',
  'address',
  'srv',
  'etcd_prefix',
  'backend',
] as const;
const TIMEOUT_KEYS = ['connect', 'idle', 'queue', 'first_byte'] as const;
/** largest retry_buffer: the replay copy is held per connection until the backend's first byte */
const MAX_RETRY_BUFFER = 1024 * 1024;
const HEALTH_KEYS = [
  'type',
  'interval',
  'timeout',
  'rise',
  'fall',
  'send',
  'expect',
  'expect_regex',
  'path',
  'expect_status',
  'host',
] as const;
const PASSIVE_KEYS = ['consecutive_failures', 'max_ejected_share'] as const;
const BACKEND_KEYS = ['name', 'address', 'srv', 'weight', 'max_connections', 'backup'] as const;

/** `s` is the section built with POOL_KEYS. */
export function readPool(name: string, s: Section): PoolConfig {
  const health = readHealth(s.section('health', HEALTH_KEYS));
  const backends = s.tables('backend', BACKEND_KEYS, `pool.${name}.backend`).map((b) => readBackend(name, b));
  return {
    name,
    algorithm: s.oneOf('algorithm', ALGORITHMS, 'round_robin'),
    ...readRetries(s),
    slowStart: s.duration('slow_start', 0, { max: MAX_DURATION_MS }),
    timeouts: readTimeouts(s.section('timeouts', TIMEOUT_KEYS)),
    health,
    passive: readPassive(s.section('passive', PASSIVE_KEYS)),
    queueSize: s.int('queue_size', 0, { min: 0, max: 100_000 }),
    sendProxy: s.oneOf('send_proxy', SEND_PROXY_MODES, 'off'),
    adaptive: readAdaptive(s.section('adaptive', ['window', 'confirm', 'min_dwell'])),
    critical: s.bool('critical', false),
    ...readPoolSource(s),
    backends,
  };
}

/** The pool's own discovery source: at most one of address (a name), srv, etcd_prefix. */
function readPoolSource(s: Section): Pick<PoolConfig, 'address' | 'srv' | 'etcdPrefix'> {
  const given = (['address', 'srv', 'etcd_prefix'] as const).filter((k) => s.has(k));
  for (const k of given.slice(1)) {
    s.error(
      k,
      'E_CONFLICT',
      `a pool takes its backends from one of address, srv or etcd_prefix; "${given[0]}" is given`,
    );
  }
  const address = s.address('address', { allowName: true, allowPortZero: false }, false);
  if (address !== null && !isHostName(address.host)) {
    s.error(
      'address',
      'E_ADDRESS',
      `"${address.text}" is an IP address: a pool's address is a name to discover; write an IP backend as [[${s.path}.backend]]`,
    );
  }
  return { address, srv: readSrvName(s, 'srv'), etcdPrefix: readEtcdPrefix(s, 'etcd_prefix') };
}

/** retries, retry_on, retry_buffer: keys that only mean something together are checked together. */
function readRetries(s: Section): Pick<PoolConfig, 'retries' | 'retryOn' | 'retryBuffer'> {
  const retries = s.int('retries', 2, { min: 0, max: 10 });
  const retryOn = s.enumList('retry_on', RETRY_CONDITIONS, ['connect_failure']);
  const retryBuffer = s.size('retry_buffer', DEFAULT_RETRY_BUFFER, { min: 1, max: MAX_RETRY_BUFFER });
  if (s.has('retry_buffer') && !retryOn.includes('empty_response')) {
    s.error(
      'retry_buffer',
      'E_CONFLICT',
      'retry_buffer is the replay buffer of retry_on = ["empty_response"]: add "empty_response" or remove it',
    );
  }
  if (retries === 0 && s.has('retry_on') && retryOn.length > 0) {
    s.error('retry_on', 'E_CONFLICT', 'retries = 0 never retries: raise retries or remove retry_on');
  }
  if (retries > 0 && s.has('retries') && s.has('retry_on') && retryOn.length === 0) {
    s.error('retries', 'E_CONFLICT', `retry_on = [] never retries: remove retries = ${retries} or name what to retry`);
  }
  return { retries, retryOn, retryBuffer };
}

function readTimeouts(s: Section): PoolTimeouts {
  const t = {
    connect: s.duration('connect', 3000, { min: 1 }),
    idle: s.duration('idle', 300_000, { min: 1 }),
    queue: s.duration('queue', 1000, { min: 1 }),
    firstByte: s.duration('first_byte', 0, { max: MAX_DURATION_MS }),
  };
  // silence both ways for `idle` closes the connection first: such a first_byte would never fire
  if (t.firstByte >= t.idle) {
    s.error('first_byte', 'E_CONFLICT', `first_byte (${t.firstByte}ms) must be below idle (${t.idle}ms)`);
  }
  return t;
}

function readAdaptive(s: Section): AdaptiveTiming {
  return {
    window: s.duration('window', DEFAULT_ADAPTIVE.window, { min: 100 }),
    confirm: s.int('confirm', DEFAULT_ADAPTIVE.confirm, { min: 1, max: 100 }),
    minDwell: s.duration('min_dwell', DEFAULT_ADAPTIVE.minDwell),
  };
}

function readPassive(s: Section): PassiveHealth {
  return {
    consecutiveFailures: s.int('consecutive_failures', DEFAULT_PASSIVE.consecutiveFailures, { min: 0, max: 1000 }),
    maxEjectedShare: s.number('max_ejected_share', DEFAULT_PASSIVE.maxEjectedShare, { min: 0, max: 1 }),
  };
}

function readHealth(s: Section): HealthCheck {
  const type = s.oneOf('type', HEALTH_TYPES, 'tcp');
  const only = (keys: readonly string[]): void => {
    for (const k of ['send', 'expect', 'expect_regex', 'path', 'expect_status', 'host']) {
      if (s.has(k) && !keys.includes(k))
        s.error(k, 'E_CONFLICT', `"${k}" does not apply to a health check of type "${type}"`);
    }
  };
  if (type === 'none') {
    only([]);
    return { type: 'none' };
  }
  const interval = s.duration('interval', DEFAULT_HEALTH.interval, { min: 10 });
  const timing = {
    interval,
    // an unset timeout never exceeds a short interval
    timeout: s.duration('timeout', Math.min(DEFAULT_HEALTH.timeout, interval), { min: 1 }),
    rise: s.int('rise', DEFAULT_HEALTH.rise, { min: 1, max: 100 }),
    fall: s.int('fall', DEFAULT_HEALTH.fall, { min: 1, max: 100 }),
  };
  if (timing.timeout > timing.interval) {
    s.error('timeout', 'E_CONFLICT', `timeout (${timing.timeout}ms) must not exceed interval (${timing.interval}ms)`);
  }
  if (type === 'tcp') {
    only([]);
    return { type, ...timing };
  }
  if (type === 'http') {
    only(['path', 'expect_status', 'host']);
    const path = s.string('path', '/health');
    if (!path.startsWith('/') || /[\s\r\n]/.test(path)) {
      s.error('path', 'E_TYPE', `"${path}" must start with "/" and hold no white space`);
    }
    const host = s.string('host', '');
    if (/[\s\r\n]/.test(host)) s.error('host', 'E_TYPE', `"${host}" must hold no white space`);
    return { type, ...timing, path, expectStatus: s.int('expect_status', 200, { min: 100, max: 599 }), host };
  }
  only(['send', 'expect', 'expect_regex']);
  const send = s.string('send', '');
  const literal = s.optString('expect');
  const pattern = s.optString('expect_regex');
  if (literal !== undefined && pattern !== undefined) {
    s.error('expect_regex', 'E_CONFLICT', 'give "expect" (literal bytes) or "expect_regex", not both');
  }
  let expect: string | RegExp = literal ?? '';
  if (pattern !== undefined) {
    try {
      expect = new RegExp(pattern);
    } catch (err) {
      s.error('expect_regex', 'E_REGEX', `"${pattern}" is not a valid regular expression: ${(err as Error).message}`);
    }
  } else if (literal === undefined) {
    s.error('expect', 'E_REQUIRED', 'a send_expect check needs "expect" or "expect_regex"');
  }
  return { type, ...timing, send, expect };
}

/** A backend: an IP address, a name (a DNS source) or an SRV name (an SRV source); exactly one of address and srv. */
function readBackend(pool: string, s: Section): BackendConfig {
  const name = s.name('name') ?? '';
  if (s.has('address') && s.has('srv')) s.error('srv', 'E_CONFLICT', 'give "address" or "srv", not both');
  const srv = readSrvName(s, 'srv');
  const address = s.address('address', { allowName: true, allowPortZero: false }, !s.has('srv'));
  if (srv !== null && s.has('weight')) {
    s.error(
      'weight',
      'E_CONFLICT',
      'an SRV source takes each backend\'s weight from its record; "weight" does not apply',
    );
  }
  return {
    name,
    key: `${pool}/${name}`,
    address: address ?? { host: '', port: 0, text: '' },
    srv,
    weight: s.int('weight', 1, { min: 1, max: 256, code: 'E_WEIGHT_RANGE' }),
    maxConnections: s.int('max_connections', 0, { min: 0, max: 1_000_000 }),
    backup: s.bool('backup', false),
    discovered: null,
  };
}
