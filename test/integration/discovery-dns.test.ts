// DNS discovery against a real name server (dnsmasq on a loopback port, TTL 1 s):
// backends follow the records without a reload and without a failed client
// connection, SRV gives ports, weights and backups, a stopped name server keeps
// the last good set (an event, a metric and an alert) until the hold time runs
// out, and a slow one never delays a client connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { NETMON } from '../systemd/child-daemon.js';
import { own } from '../helpers/own.js';
import { hasTool } from '../helpers/tools.js';
import type { TestDaemon } from '../helpers/daemon.js';
import { discoveryConfig, nextDiscovery, startDiscoveryDaemon, type DiscoveryEvent } from '../helpers/discovery.js';
import { waitFor, whoAnswers } from '../helpers/servers.js';
import { DOMAIN, echoOn, echoesOnOnePort, startDnsmasq, startSlowDns, type EchoOn } from '../helpers/dns.js';
import { HeldConnection, shortConnections } from './reload-helpers.js';
import type { PoolSnapshot } from '../../daemon/control/snapshot/snapshot.js';
import { startAlerts } from '../../daemon/control/alerts/service.js';
import { createRegistry } from '../../daemon/control/metrics/registry.js';

const run = promisify(execFile);

function config(o: { port: number; dns: number; pool: string; resolvers?: string; pre?: string }): string {
  return discoveryConfig({
    port: o.port,
    top: ['drain_timeout = "5s"', o.pre ?? ''],
    sections: [
      '[log]',
      'level = "warn"',
      '[resolvers]',
      `nameservers = ["127.0.0.1:${o.dns}"]`,
      o.resolvers ?? 'timeout = { resolve = "200ms", retry = "300ms" }',
    ],
    pool: ['retries = 2', o.pool],
  });
}

function pool(d: TestDaemon, name = 'web'): PoolSnapshot {
  return d.daemon.snapshot().pools.find((p) => p.name === name)!;
}

function liveKeys(d: TestDaemon): string[] {
  return d.daemon
    .snapshot()
    .backends.filter((b) => !b.removed)
    .map((b) => b.key)
    .sort();
}

test('a name with N addresses is N backends that follow its records without a reload; no client connection fails', async (t) => {
  if (!hasTool(t, 'dnsmasq', 'dnsmasq-base')) return;
  const echoes = await echoesOnOnePort(['127.0.0.1', '127.0.0.2', '127.0.0.3'], ['a1', 'a2', 'a3']);
  for (const e of echoes) own(t, e);
  const [a1, a2, a3] = echoes;
  const port = a1!.port;
  const app = `app.${DOMAIN}`;
  const dns = own(t, await startDnsmasq([`127.0.0.1 ${app}`, `127.0.0.2 ${app}`]));
  const { d, port: listen } = await startDiscoveryDaemon(t, (at) =>
    config({ port: at, dns: dns.port, pool: `address = "${app}:${port}"\nslow_start = "3s"` }),
  );
  const key = (ip: string): string => `web/${app}#${ip}:${port}`;
  const load = own(t, shortConnections(listen, 4, 30_000));
  assert.deepEqual(liveKeys(d), [key('127.0.0.1'), key('127.0.0.2')]);
  const src = pool(d).discovery[0]!;
  assert.equal(src.state, 'ok');
  assert.equal(src.source, `dns ${app}:${port}`);
  const slot1 = d.daemon.topology.backends.get(key('127.0.0.1'));
  const generation = d.daemon.snapshot().info.generation;
  await waitFor(() => a1!.accepted > 0 && a2!.accepted > 0, 5000, 'traffic on both addresses');

  // a record added: a backend added, without a reload
  const added = nextDiscovery(d, (e) => e.what === 'added');
  await dns.setHosts([`127.0.0.1 ${app}`, `127.0.0.2 ${app}`, `127.0.0.3 ${app}`]);
  assert.equal((await added).backend, key('127.0.0.3'));
  assert.deepEqual(liveKeys(d), [key('127.0.0.1'), key('127.0.0.2'), key('127.0.0.3')]);
  // added at run time: it ramps up under slow_start (those found at start did not)
  const ramp = d.daemon.events(50).find((e) => e.type === 'state' && e.backend === key('127.0.0.3'));
  assert.equal(ramp?.type === 'state' ? `${ramp.from} -> ${ramp.to} ${ramp.cause}` : '', 'up -> starting discovery');
  assert.ok(!d.daemon.events(50).some((e) => e.type === 'state' && e.backend === key('127.0.0.1')));
  assert.ok(d.daemon.snapshot().info.generation > generation, 'applied as a new generation');
  assert.equal(d.daemon.snapshot().info.reloads, 0, 'not a reload');
  // the backends that stayed kept their slot, state and counters
  assert.equal(d.daemon.topology.backends.get(key('127.0.0.1')), slot1);
  await waitFor(() => a3!.accepted > 0, 5000, 'traffic on the new address');

  // a connection open on the address about to go
  let held: HeldConnection | null = null;
  for (let i = 0; i < 30 && held === null; i++) {
    const c = await HeldConnection.open(listen);
    if (c.backend === 'a1') held = c;
    else c.destroy();
  }
  t.after(() => held?.destroy());
  assert.ok(held !== null, 'a connection through to a1');

  // a record removed: the backend drains, gets nothing new; the open connection finishes, as after a reload
  const removed = nextDiscovery(d, (e) => e.what === 'removed');
  await dns.setHosts([`127.0.0.2 ${app}`, `127.0.0.3 ${app}`]);
  assert.equal((await removed).backend, key('127.0.0.1'));
  assert.deepEqual(liveKeys(d), [key('127.0.0.2'), key('127.0.0.3')]);
  const before = a1!.accepted;
  for (let i = 0; i < 20; i++) assert.notEqual(await whoAnswers(listen), 'a1');
  assert.equal(a1!.accepted, before);
  await held.echo('still relayed after the record went');
  held.end();
  await held.closed;
  assert.equal(held.error, null, 'the open connection ended cleanly');
  const events = d.daemon.events(100).filter((e): e is DiscoveryEvent => e.type === 'discovery');
  assert.deepEqual(
    events.filter((e) => e.what === 'added' || e.what === 'removed').map((e) => `${e.what} ${e.backend}`),
    [
      `added ${key('127.0.0.1')}`,
      `added ${key('127.0.0.2')}`,
      `added ${key('127.0.0.3')}`,
      `removed ${key('127.0.0.1')}`,
    ],
  );
  assert.deepEqual(pool(d).discovery[0]!.changes, { added: 3, removed: 1, reweighted: 0 });
  const r = await load.stop();
  assert.deepEqual(r.failures, [], 'no client connection failed while the records changed');
  assert.ok(r.short > 50, `connections made: ${r.short}`);
});

test('SRV records: ports and weights from the records, a higher priority is a backup; a weight change follows', async (t) => {
  if (!hasTool(t, 'dnsmasq', 'dnsmasq-base')) return;
  const t1 = own(t, await echoOn('127.0.0.1', 0, 't1'));
  const t2 = own(t, await echoOn('127.0.0.1', 0, 't2'));
  const t3 = own(t, await echoOn('127.0.0.1', 0, 't3'));
  const srvName = `_app._tcp.${DOMAIN}`;
  const hosts = [`127.0.0.1 t1.${DOMAIN}`, `127.0.0.1 t2.${DOMAIN}`, `127.0.0.1 t3.${DOMAIN}`];
  const records = (w1: number): string[] => [
    `${srvName},t1.${DOMAIN},${t1.port},0,${w1}`,
    `${srvName},t2.${DOMAIN},${t2.port},0,30`,
    `${srvName},t3.${DOMAIN},${t3.port},10,5`,
  ];
  const dns = own(t, await startDnsmasq(hosts, records(10)));
  const { d, port: listen } = await startDiscoveryDaemon(t, (at) =>
    config({
      port: at,
      dns: dns.port,
      pool: ['algorithm = "weighted_round_robin"', '[[pool.web.backend]]', 'name = "app"', `srv = "${srvName}"`].join(
        '\n',
      ),
    }),
  );
  const backend = (s: EchoOn) => d.daemon.snapshot().backends.find((b) => b.key === `web/app#127.0.0.1:${s.port}`);
  assert.equal(backend(t1)?.weight, 10);
  assert.equal(backend(t2)?.weight, 30);
  assert.equal(backend(t3)?.weight, 5);
  assert.deepEqual(
    [t1, t2, t3].map((s) => backend(s)?.backup),
    [false, false, true],
  );
  assert.equal(backend(t1)?.source, `srv ${srvName}`);
  // the backup gets nothing while the primaries serve
  for (let i = 0; i < 16; i++) assert.notEqual(await whoAnswers(listen), 't3');
  const slot = d.daemon.topology.backends.get(`web/app#127.0.0.1:${t1.port}`);
  const load = own(t, shortConnections(listen, 2, 30_000));
  const served = t1.accepted + t2.accepted;
  await waitFor(() => t1.accepted + t2.accepted >= served + 10, 5000, 'client connections under way');

  // dnsmasq reads srv-host lines at start: the change is a restart on the same port
  const reweighted = nextDiscovery(d, (e) => e.what === 'reweighted');
  await dns.setSrv(records(50));
  const e = await reweighted;
  assert.equal(e.backend, `web/app#127.0.0.1:${t1.port}`);
  assert.match(e.detail, /weight 10 -> 50/);
  assert.equal(backend(t1)?.weight, 50);
  assert.equal(d.daemon.topology.backends.get(`web/app#127.0.0.1:${t1.port}`), slot, 'same backend, same slot');
  // the name server was down for the restart: the set was kept, no client connection failed
  const r = await load.stop();
  assert.deepEqual(r.failures, [], 'no client connection failed while the SRV records changed');
  assert.ok(r.short >= 10 && !r.answers.has('t3'), `connections made: ${r.short}, none to the backup`);
});

test('a stopped name server: the last good set is kept for the hold time (event, metric, alert), then removed; back when it answers', async (t) => {
  if (!hasTool(t, 'dnsmasq', 'dnsmasq-base')) return;
  const [a1] = (await echoesOnOnePort(['127.0.0.1'], ['a1'])).map((e) => own(t, e));
  const app = `app.${DOMAIN}`;
  const dns = own(t, await startDnsmasq([`127.0.0.1 ${app}`]));
  const { d, port: listen } = await startDiscoveryDaemon(t, (at) =>
    config({
      port: at,
      dns: dns.port,
      pre: '[alerts]\nfor = "0s"\ninterval = "100ms"',
      resolvers: [
        'resolve_retries = 1',
        'timeout = { resolve = "200ms", retry = "200ms" }',
        'hold = { nx = "3s", timeout = "3s", refused = "3s" }',
      ].join('\n'),
      pool: `address = "${app}:${a1!.port}"`,
    }),
  );
  const alerts = own(t, startAlerts(d.daemon));
  const registry = createRegistry(d.daemon);
  assert.equal(await whoAnswers(listen), 'a1');
  let keptAtFailure: string[] = [];
  const failed = nextDiscovery(d, (e) => {
    if (e.what !== 'failed') return false;
    keptAtFailure = liveKeys(d);
    return true;
  });
  await dns.stop();
  const f = await failed;
  assert.match(f.detail, /ECONNREFUSED|ETIMEOUT|EREFUSED/);
  assert.deepEqual(keptAtFailure, [`web/${app}#127.0.0.1:${a1!.port}`], 'the last good set is kept');
  assert.equal(pool(d).discovery[0]!.state, 'failing');
  assert.equal(await whoAnswers(listen), 'a1', 'traffic goes on to the last good set');
  alerts.evaluate();
  await waitFor(
    () => alerts.list().some((a) => a.name === 'discovery_failed' && a.state === 'firing' && a.severity === 'warning'),
    3000,
    'a discovery_failed alert',
  );
  const text = await registry.metrics();
  const failures = [...text.matchAll(/^netmon_discovery_failures_total\{[^}]*\} (\d+)$/gm)].reduce(
    (n, m) => n + Number(m[1]),
    0,
  );
  assert.ok(failures > 0, 'netmon_discovery_failures_total counts the failure');
  assert.match(text, /^netmon_discovery_state\{[^}]*state="failing"[^}]*\} 1$/m);

  // past the hold time (3 s from the last good answer) the set is dropped
  await nextDiscovery(d, (e) => e.what === 'expired', 8000);
  await waitFor(() => liveKeys(d).length === 0, 3000, 'the expired backends removed');
  alerts.evaluate();
  assert.ok(
    alerts.list().some((a) => a.name === 'discovery_failed' && a.state === 'firing' && a.severity === 'critical'),
  );

  const back = nextDiscovery(d, (e) => e.what === 'added');
  await dns.start();
  await back;
  assert.equal(await whoAnswers(listen), 'a1');
  assert.equal(pool(d).discovery[0]!.state, 'ok');
});

test('a name server that answers after 2 s does not delay client connections at all', async (t) => {
  if (!hasTool(t, 'dnsmasq', 'dnsmasq-base')) return;
  const [a1] = (await echoesOnOnePort(['127.0.0.1', '127.0.0.2'], ['a1', 'a2'])).map((e) => own(t, e));
  const app = `app.${DOMAIN}`;
  const dns = own(t, await startDnsmasq([`127.0.0.1 ${app}`, `127.0.0.2 ${app}`]));
  const slow = own(t, await startSlowDns(dns.port, 2000));
  // every answer is 2 s late; a refresh is due every 200 ms (TTL 1 s cut to hold.valid), so one is nearly always in flight
  const { d, port: listen } = await startDiscoveryDaemon(t, (at) =>
    config({
      port: at,
      dns: slow.port,
      resolvers: [
        'resolve_retries = 1',
        'timeout = { resolve = "100ms", retry = "5s" }',
        'hold = { valid = "200ms" }',
      ].join('\n'),
      pool: `address = "${app}:${a1!.port}"`,
    }),
  );
  assert.equal(liveKeys(d).length, 2, 'the start waited for the first (slow) answer');
  // a refresh is in flight: its answer is being held for 2 s
  await slow.nextHeld(5000);
  const released = slow.released;
  const t0 = performance.now();
  const seen = new Set<string>();
  for (let i = 0; i < 40; i++) seen.add(await whoAnswers(listen, 1000));
  const elapsed = performance.now() - t0;
  assert.deepEqual([...seen].sort(), ['a1', 'a2']);
  // 40 connections were served while the held answer was still on its way
  assert.equal(slow.released, released, `no answer released during the ${Math.round(elapsed)} ms of connections`);
  assert.ok(slow.held > 0);
});

test('a name that does not resolve at start: the daemon starts without it, says so, and adds its backends when it appears', async (t) => {
  if (!hasTool(t, 'dnsmasq', 'dnsmasq-base')) return;
  const [a1] = (await echoesOnOnePort(['127.0.0.1'], ['a1'])).map((e) => own(t, e));
  const b1 = own(t, await echoOn('127.0.0.1', 0, 'b1'));
  const app = `late.${DOMAIN}`;
  const dns = own(t, await startDnsmasq([]));
  const { d, port: listen } = await startDiscoveryDaemon(t, (at) =>
    config({
      port: at,
      dns: dns.port,
      pool: [
        '[[pool.web.backend]]',
        'name = "b1"',
        `address = "127.0.0.1:${b1.port}"`,
        '[[pool.web.backend]]',
        'name = "late"',
        `address = "${app}:${a1!.port}"`,
      ].join('\n'),
    }),
  );
  assert.deepEqual(liveKeys(d), ['web/b1']);
  const src = pool(d).discovery[0]!;
  assert.equal(src.state, 'failing');
  assert.match(src.error ?? '', /^nx: /);
  assert.ok(d.daemon.events(50).some((e) => e.type === 'discovery' && e.what === 'failed'));
  assert.equal(await whoAnswers(listen), 'b1');
  const added = nextDiscovery(d, (e) => e.what === 'added');
  await dns.setHosts([`127.0.0.1 ${app}`]);
  assert.equal((await added).backend, `web/late#127.0.0.1:${a1!.port}`);
});

test('check-config validates discovery sections without asking; --resolve asks every source once (E_RESOLVE)', async (t) => {
  if (!hasTool(t, 'dnsmasq', 'dnsmasq-base')) return;
  const app = `app.${DOMAIN}`;
  const dns = own(t, await startDnsmasq([`127.0.0.1 ${app}`, `127.0.0.2 ${app}`]));
  const dir = mkdtempSync(join(tmpdir(), 'netmon-resolve-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'netmon.toml');
  const write = (name: string): void =>
    writeFileSync(
      file,
      config({
        port: 18080,
        dns: dns.port,
        pool: ['[[pool.web.backend]]', 'name = "app"', `address = "${name}:8080"`].join('\n'),
      }),
    );
  write(`missing.${DOMAIN}`);
  const plain = await run(NETMON, ['check-config', file], { timeout: 30_000 });
  assert.match(plain.stdout, /: ok: /, 'syntax only: a name that does not resolve is valid');
  const bad = await run(NETMON, ['check-config', '--resolve', file], { timeout: 30_000 }).catch(
    (e: { code: number; stderr: string }) => e,
  );
  assert.equal((bad as { code: number }).code, 1);
  assert.match(
    (bad as { stderr: string }).stderr,
    new RegExp(`pool\\.web\\.backend\\[0\\]\\.address: dns missing\\.${DOMAIN}:8080: nx: .*\\[E_RESOLVE\\]`),
  );
  write(app);
  const good = await run(NETMON, ['check-config', '--resolve', file], { timeout: 30_000 });
  assert.match(good.stdout, /pool\.web\.backend\[0\]\.address: dns app\.netmon\.test:8080: 2 backend\(s\)/);
});
