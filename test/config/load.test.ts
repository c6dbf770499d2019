// The loader's contract: defaults filled in, the result frozen, durations in ms,
// the embedded default valid, and errors that say where and what.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../daemon/config/load.js';
import { DEFAULT_CONFIG_TOML } from '../../daemon/config/default.js';
import { ConfigErrors } from '../../daemon/errors.js';

const MINIMAL = `
[[listener]]
name = "web"
bind = "127.0.0.1:8080"
pool = "web"
[pool.web]
[[pool.web.backend]]
name = "b1"
address = "127.0.0.1:5001"
`;

function errorsOf(text: string): string[] {
  try {
    parseConfig(text, 't.toml');
  } catch (err) {
    if (err instanceof ConfigErrors) return err.errors.map((e) => e.format());
    throw err;
  }
  return [];
}

test('the embedded default config is valid and loopback only', () => {
  const c = parseConfig(DEFAULT_CONFIG_TOML, '<embedded default>');
  assert.equal(c.listeners[0]!.bind.host, '127.0.0.1');
  assert.equal(c.metrics.listen?.text, '127.0.0.1:9469');
  assert.deepEqual(
    c.pools[0]!.backends.map((b) => b.address.text),
    ['127.0.0.1:5001', '127.0.0.1:5002', '127.0.0.1:5003'],
  );
});

test('defaults are filled in and the config is frozen', () => {
  const c = parseConfig(MINIMAL, 't.toml');
  const p = c.pools[0]!;
  assert.equal(p.algorithm, 'round_robin');
  assert.equal(p.retries, 2);
  assert.deepEqual(p.retryOn, ['connect_failure']);
  assert.equal(p.retryBuffer, 16384);
  assert.deepEqual(p.timeouts, { connect: 3000, idle: 300_000, queue: 1000, firstByte: 0 });
  assert.equal(c.listeners[0]!.edge.inspectBytes, 16389, 'a full TLS record and its header');
  assert.deepEqual(p.health, { type: 'tcp', interval: 2000, timeout: 1000, rise: 2, fall: 3 });
  assert.equal(p.backends[0]!.weight, 1);
  assert.equal(p.backends[0]!.key, 'web/b1');
  assert.equal(c.control.socket, '/run/netmon/netmon.sock');
  assert.equal(c.metrics.listen?.text, '127.0.0.1:9469', 'the metrics port is on by default');
  assert.equal(c.log.level, 'info');
  assert.ok(c.workers >= 1);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(p.backends[0]));
});

test('durations, IPv6 binds, send_expect regex and http checks are parsed', () => {
  const c = parseConfig(
    MINIMAL.replace('127.0.0.1:8080', '[::1]:8080').replace(
      '[pool.web]',
      `[pool.web]
slow_start = "1m30s"
health = { type = "send_expect", send = "PING\\r\\n", expect_regex = "^\\\\+PONG", interval = "250ms" }
[pool.api]
health = { type = "http", path = "/healthz", expect_status = 204 }
[[pool.api.backend]]
name = "a1"
address = "api.internal:443"`,
    ),
    't.toml',
  );
  assert.equal(c.listeners[0]!.bind.host, '::1');
  const web = c.pools.find((p) => p.name === 'web')!;
  assert.equal(web.slowStart, 90_000);
  assert.ok(web.health.type === 'send_expect' && web.health.expect instanceof RegExp);
  assert.equal(web.health.type === 'send_expect' && web.health.send, 'PING\r\n');
  const api = c.pools.find((p) => p.name === 'api')!;
  assert.ok(api.health.type === 'http' && api.health.expectStatus === 204 && api.health.path === '/healthz');
});

test('errors name the file, line, key path and code, in file order', () => {
  const errs = errorsOf(
    MINIMAL.replace('name = "b1"', 'name = "b1"\nweight = 300').replace('pool = "web"', 'pool = "web"\nbacklog = 0'),
  );
  assert.deepEqual(errs, [
    't.toml:6: listener[0].backlog: must be 1..65535, got 0 [E_RANGE]',
    't.toml:10: pool.web.backend[0].weight: must be 1..256, got 300 [E_WEIGHT_RANGE]',
  ]);
});

test('a health key that does not fit the check type is refused', () => {
  const errs = errorsOf(MINIMAL.replace('[pool.web]', '[pool.web]\nhealth = { type = "tcp", path = "/x" }'));
  assert.equal(errs.length, 1);
  assert.match(
    errs[0]!,
    /pool\.web\.health\.path: "path" does not apply to a health check of type "tcp" \[E_CONFLICT\]/,
  );
});

test('a pool of only backups and more backends than limits allow are refused', () => {
  const errs = errorsOf(
    MINIMAL.replace('address = "127.0.0.1:5001"', 'address = "127.0.0.1:5001"\nbackup = true') +
      '[limits]\nmax_backends = 0\n',
  );
  assert.ok(errs.some((e) => e.includes('[E_CONFLICT]') && e.includes('every backend of pool "web" is a backup')));
  assert.ok(errs.some((e) => e.includes('limits.max_backends: must be 1..65536, got 0 [E_RANGE]')));
});

test('quoted keys with any TOML escape or a raw tab are located, never a raw exception; deep dotted keys too', () => {
  const cases: [string, string][] = [
    ['"a\tb" = 1\n', '"a\\tb"'],
    ['"a\\eb" = 1\n', '"a\\u001bb"'],
    ['"a\\x41" = 1\n', 'aA'],
    ['"\\U0001F600" = 1\n', '"😀"'],
    ['[x."a\tb"]\ny = 1\n', 'x'],
    // a key of 20,000 segments: the line locator reads at most 32 of them (it was quadratic: seconds)
    [`${Array.from({ length: 20_000 }, () => 'k').join('.')} = 1\n`, 'k'],
  ];
  for (const [text, path] of cases) {
    const errors = errorsOf(text + MINIMAL);
    assert.equal(errors.length, 1, text.slice(0, 40));
    assert.ok(errors[0]!.startsWith(`t.toml:1: ${path}: unknown key `), errors[0]);
    assert.ok(!/[\x00-\x1f]/.test(errors[0]!), 'no raw control character reaches a terminal');
  }
});
