// The one reload diff: items matched by name, every change named by its key
// path in the file's spelling, a reordering is no change, and the summary says
// which settings wait for a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../daemon/config/load.js';
import { changedKeys, diffConfigs } from '../../daemon/control/topology/diff.js';
import { keyChanges } from '../../daemon/control/reload-report.js';

function toml(
  o: { top?: string[]; main?: string[]; web?: string[]; backends?: string[][]; extra?: string[] } = {},
): string {
  const backends = o.backends ?? [
    ['name = "b1"', 'address = "127.0.0.1:9001"', 'weight = 1'],
    ['name = "b2"', 'address = "127.0.0.1:9002"', 'weight = 1'],
  ];
  return [
    'workers = 2',
    ...(o.top ?? []),
    '[[listener]]',
    'name = "main"',
    'bind = "127.0.0.1:8080"',
    'pool = "web"',
    ...(o.main ?? []),
    ...(o.extra ?? []),
    '[pool.web]',
    ...(o.web ?? ['health = { type = "tcp", interval = "2s" }']),
    ...backends.flatMap((b) => ['[[pool.web.backend]]', ...b]),
  ].join('\n');
}

const load = (text: string) => parseConfig(text, 'test.toml');

test('the first config is a diff from nothing: everything added, no settings changed', () => {
  const d = diffConfigs(null, load(toml()));
  assert.deepEqual(
    [
      d.listeners.added.map((l) => l.name),
      d.pools.added.map((p) => p.name),
      d.backends.added.map((b) => b.backend.key),
    ],
    [['main'], ['web'], ['web/b1', 'web/b2']],
  );
  assert.deepEqual(d.settings, []);
});

test('the same config, reordered or reloaded, is no change', () => {
  const a = load(toml());
  const b = load(
    toml({
      backends: [
        ['name = "b2"', 'address = "127.0.0.1:9002"', 'weight = 1'],
        ['name = "b1"', 'address = "127.0.0.1:9001"', 'weight = 1'],
      ],
    }),
  );
  assert.deepEqual(changedKeys(diffConfigs(a, b)), []);
  assert.deepEqual(changedKeys(diffConfigs(a, load(toml()))), []);
});

test('every changed key is named by its path, items by name', () => {
  const a = load(toml());
  const b = load(
    toml({
      top: ['max_connections = 100', '[log]', 'level = "debug"', '[alerts]', 'interval = "7s"'],
      main: [
        'backlog = 64',
        'allow = ["10.0.0.0/8"]',
        'source_limits = { rate = 5 }',
        'inspect_delay = "1s"',
        '[[listener.route]]',
        'protocol = "tls"',
        'pool = "web"',
      ],
      web: [
        'health = { type = "send_expect", interval = "2s", send = "PING", expect_regex = "^PONG" }',
        'timeouts = { connect = "250ms" }',
      ],
      backends: [
        ['name = "b1"', 'address = "127.0.0.1:9001"', 'weight = 4'],
        ['name = "b3"', 'address = "127.0.0.1:9003"'],
      ],
      extra: ['[[listener]]', 'name = "other"', 'bind = "127.0.0.1:8090"', 'pool = "web"'],
    }),
  );
  const d = diffConfigs(a, b);
  assert.deepEqual(changedKeys(d).sort(), [
    'alerts.interval',
    'listener.main.allow',
    'listener.main.backlog',
    'listener.main.inspect_delay',
    'listener.main.route',
    'listener.main.source_limits.burst',
    'listener.main.source_limits.rate',
    'listener.other',
    'log.level',
    'max_connections',
    'pool.web.backend.b1.weight',
    'pool.web.backend.b2',
    'pool.web.backend.b3',
    'pool.web.health.expect',
    'pool.web.health.send',
    'pool.web.health.type',
    'pool.web.timeouts.connect',
  ]);
  assert.deepEqual(
    [d.backends.added.map((e) => e.backend.key), d.backends.removed.map((e) => e.backend.key)],
    [['web/b3'], ['web/b2']],
  );
  assert.deepEqual(d.backends.changed[0]!.keys, [{ path: 'weight', before: 1, after: 4 }]);
});

test('a regular expression or an address is compared by what it says, not by identity', () => {
  const web = ['health = { type = "send_expect", interval = "2s", send = "PING", expect_regex = "^PONG" }'];
  const a = load(toml({ web, main: ['deny = ["10.0.0.0/8"]'] }));
  const b = load(toml({ web, main: ['deny = ["10.0.0.0/8"]'] }));
  assert.notEqual(a.pools[0]!.health, b.pools[0]!.health);
  assert.deepEqual(changedKeys(diffConfigs(a, b)), []);
  const c = load(toml({ web: [web[0]!.replace('^PONG', '^PONG!')], main: ['deny = ["10.0.0.0/9"]'] }));
  assert.deepEqual(changedKeys(diffConfigs(a, c)).sort(), ['listener.main.deny', 'pool.web.health.expect']);
});

test('the summary names settings a reload does not apply as waiting for the next restart', () => {
  const a = load(toml());
  const b = load(toml({ top: ['workers = 3', '[log]', 'level = "debug"'] }).replace('workers = 2\n', ''));
  const lines = keyChanges(diffConfigs(a, b));
  assert.deepEqual(lines, ['workers 2 -> 3 takes effect at the next restart', 'log.level "info" -> "debug"']);
});

test('discovery settings are named by their keys; an etcd password is said to have changed, never shown', () => {
  const etcd = (password: string): string[] => [
    '[etcd]',
    'endpoints = ["http://127.0.0.1:2379"]',
    'username = "netmon"',
    `password = "${password}"`,
    '[resolvers]',
    `hold = { nx = "${password === 'a' ? '30s' : '5s'}" }`,
  ];
  const a = load(toml({ top: etcd('a') }));
  const b = load(toml({ top: etcd('s3cret') }));
  const lines = keyChanges(diffConfigs(a, b));
  assert.deepEqual(lines, ['resolvers.hold.nx 30000 -> 5000', 'etcd.password changed']);
  assert.ok(!lines.join('\n').includes('s3cret'));
});
