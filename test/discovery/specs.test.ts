// The running config a discovery source makes: which sources a config asks for,
// the names its backends get (stable for the same address, so counters and
// consistent hashes stay with them), the settings they take, and what a diff
// between two of its sets says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../daemon/config/load.js';
import { expandConfig, sourceSpecs, type SourceSpec } from '../../daemon/control/discovery/specs.js';
import type { Found } from '../../daemon/control/discovery/source.js';
import { diffConfigs } from '../../daemon/control/topology/diff.js';

const TOML = `
[[listener]]
name = "main"
bind = "127.0.0.1:8080"
pool = "web"

[pool.web]
[[pool.web.backend]]
name = "static"
address = "127.0.0.1:5001"
[[pool.web.backend]]
name = "app"
address = "app.internal:8080"
weight = 3
max_connections = 50
[[pool.web.backend]]
name = "svc"
srv = "_app._tcp.internal"

[pool.dns]
address = "api.internal:9000"
[[pool.dns.backend]]
name = "local"
address = "127.0.0.1:9000"

[etcd]
endpoints = ["http://127.0.0.1:2379"]
[pool.fleet]
etcd_prefix = "/netmon/fleet/"
`;

const at = (ip: string, port: number, o: Partial<Found> = {}): Found => ({
  id: ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`,
  ip,
  port,
  weight: null,
  backup: false,
  maxConnections: null,
  admin: null,
  host: 'x',
  ...o,
});

test('the sources a config asks for, with the key that asks for each', () => {
  const specs = sourceSpecs(parseConfig(TOML, 't.toml'));
  assert.deepEqual(
    specs.map((s) => `${s.path} ${s.kind} ${s.target}${s.port ? ':' + s.port : ''} name=${s.name}`),
    [
      'pool.web.backend[1].address dns app.internal:8080 name=app',
      'pool.web.backend[2].srv srv _app._tcp.internal name=svc',
      'pool.dns.address dns api.internal:9000 name=api.internal',
      'pool.fleet.etcd_prefix etcd /netmon/fleet/ name=',
    ],
  );
});

test('each address found is a backend named after its source and address; written ones are kept in place', () => {
  const file = parseConfig(TOML, 't.toml');
  const sets: Record<string, Found[]> = {
    app: [at('10.0.0.7', 8080), at('2001:db8::7', 8080, { weight: 9 })],
    svc: [at('10.0.0.8', 7000, { weight: 20, backup: true })],
    'api.internal': [at('10.0.1.1', 9000)],
    '': [at('10.0.2.1', 80, { id: 'b1', weight: 4, maxConnections: 10, admin: 'drain', host: '' })],
  };
  const run = expandConfig(file, (s: SourceSpec) => sets[s.name] ?? []);
  const web = run.pools.find((p) => p.name === 'web')!;
  assert.deepEqual(
    web.backends.map(
      (b) => `${b.key} ${b.address.text} w${b.weight} max${b.maxConnections} ${b.backup ? 'backup' : 'primary'}`,
    ),
    [
      'web/static 127.0.0.1:5001 w1 max0 primary',
      'web/app#10.0.0.7:8080 10.0.0.7:8080 w3 max50 primary',
      'web/app#[2001:db8::7]:8080 [2001:db8::7]:8080 w9 max50 primary',
      'web/svc#10.0.0.8:7000 10.0.0.8:7000 w20 max0 backup',
    ],
  );
  assert.equal(web.backends[1]!.discovered?.source, 'dns app.internal:8080');
  assert.equal(web.backends[0]!.discovered, null);
  assert.deepEqual(
    run.pools.find((p) => p.name === 'dns')!.backends.map((b) => b.key),
    ['dns/local', 'dns/api.internal#10.0.1.1:9000'],
  );
  const fleet = run.pools.find((p) => p.name === 'fleet')!.backends[0]!;
  assert.equal(fleet.key, 'fleet/b1');
  assert.deepEqual(fleet.discovered, {
    source: 'etcd /netmon/fleet/',
    host: '',
    admin: 'drain',
    sourceId: fleet.discovered!.sourceId,
  });
  // every address in a running config is an IP literal: workers never resolve
  for (const p of run.pools) for (const b of p.backends) assert.match(b.address.host, /^[\d.]+$|:/);
});

test('a new set is a diff of backends: added, removed, re-weighted; the same address keeps its name', () => {
  const file = parseConfig(TOML, 't.toml');
  let app = [at('10.0.0.1', 8080), at('10.0.0.2', 8080)];
  const before = expandConfig(file, (s) => (s.name === 'app' ? app : []));
  app = [at('10.0.0.2', 8080, { weight: 5 }), at('10.0.0.3', 8080)];
  const after = expandConfig(file, (s) => (s.name === 'app' ? app : []));
  const d = diffConfigs(before, after);
  assert.deepEqual(
    d.backends.added.map((e) => e.backend.key),
    ['web/app#10.0.0.3:8080'],
  );
  assert.deepEqual(
    d.backends.removed.map((e) => e.backend.key),
    ['web/app#10.0.0.1:8080'],
  );
  assert.deepEqual(
    d.backends.changed.map((c) => `${c.name} ${c.keys.map((k) => k.path).join(',')}`),
    ['web/app#10.0.0.2:8080 weight'],
  );
  assert.deepEqual(d.pools.changed, [], 'the pools themselves did not change');
});

test('a name met twice in a pool is taken once, and said', () => {
  const file = parseConfig(
    `[[listener]]
name = "main"
bind = "127.0.0.1:8080"
pool = "web"
[etcd]
endpoints = ["http://127.0.0.1:2379"]
[pool.web]
etcd_prefix = "/p/"
[[pool.web.backend]]
name = "b1"
address = "127.0.0.1:5001"
`,
    't.toml',
  );
  const dups: string[] = [];
  const run = expandConfig(
    file,
    () => [at('10.0.0.1', 80, { id: 'b1', host: '' })],
    (key) => dups.push(key),
  );
  assert.deepEqual(
    run.pools[0]!.backends.map((b) => b.address.text),
    ['127.0.0.1:5001'],
  );
  assert.deepEqual(dups, ['web/b1']);
});
