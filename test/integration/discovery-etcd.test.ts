// etcd discovery against a real etcd on loopback: a pool's backends are the keys
// under a prefix; `netmon ctl set state ... --fleet` writes to etcd and every
// daemon watching the prefix applies it within a second; losing etcd keeps the
// last good set serving, and a restarted etcd resumes the watch without a reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startControlServer } from '../../daemon/control/socket/server.js';
import { startAlerts } from '../../daemon/control/alerts/service.js';
import type { BackendSnapshot, DaemonEvent } from '../../daemon/control/snapshot/snapshot.js';
import { AdminState } from '../../daemon/state/names.js';
import { own } from '../helpers/own.js';
import { hasTool } from '../helpers/tools.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { discoveryConfig, nextDiscovery, startDiscoveryDaemon } from '../helpers/discovery.js';
import { startEtcd } from '../helpers/etcd.js';
import { freePort, startNamedEcho, waitFor, whoAnswers } from '../helpers/servers.js';
import { NETMON, startChildDaemon } from '../systemd/child-daemon.js';
import { shortConnections } from './reload-helpers.js';

const run = promisify(execFile);

/** A daemon's config: one pool on `prefix`; `etcd` is the [etcd] section's lines. */
function config(o: { port: number; etcd: string[]; prefix: string; pre?: string; sock?: string }): string {
  return discoveryConfig({
    port: o.port,
    top: [o.pre ?? ''],
    sections: [
      // a daemon of its own (a child process): its control socket, no metrics port
      ...(o.sock === undefined
        ? []
        : ['[metrics]', 'listen = "off"', '[control]', `socket = ${JSON.stringify(o.sock)}`]),
      '[log]',
      // a child process is seen to be up by its "netmon started" line (info)
      `level = "${o.sock === undefined ? 'warn' : 'info'}"`,
      '[etcd]',
      ...o.etcd,
    ],
    pool: ['algorithm = "weighted_round_robin"', `etcd_prefix = "${o.prefix}"`],
  });
}

const entry = (port: number, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ address: `127.0.0.1:${port}`, weight: 2, ...extra });

test('two daemons watching one prefix both apply a --fleet drain within 1 s', async (t) => {
  if (!hasTool(t, 'etcd', 'etcd-server')) return;
  const etcd = own(t, await startEtcd());
  const prefix = `/netmon-test/${process.pid}/web/`;
  const b1 = own(t, await startNamedEcho('b1'));
  const b2 = own(t, await startNamedEcho('b2'));
  await etcd.client.put(prefix + 'b1').value(entry(b1.port));
  await etcd.client.put(prefix + 'b2').value(entry(b2.port));
  // refused whole, reported, and the others are served
  await etcd.client.put(prefix + 'bad').value('{"address": "app.internal:80"}');
  const [pa, pb] = [await freePort(), await freePort()];
  // both on the same endpoints and prefix: one here, one a netmon process of its own
  const endpoints = [`endpoints = ["${etcd.url}"]`];
  const a = own(t, await startTestDaemon(config({ port: pa, etcd: endpoints, prefix })));
  const b = await startChildDaemon((sock) => config({ port: pb, etcd: endpoints, prefix, sock }));
  t.after(() => b.cleanup());
  const dir = mkdtempSync(join(tmpdir(), 'netmon-fleet-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sock = join(dir, 'a.sock');
  own(t, await startControlServer({ path: sock, context: a.daemon }));
  const slot = (key: string): number => a.daemon.topology.backends.get(key)!;
  const backendsOfB = async (): Promise<BackendSnapshot[]> => (await b.ctl('show-backends')) as BackendSnapshot[];
  const eventsOfB = async (): Promise<DaemonEvent[]> => (await b.ctl('show-events', { limit: 50 })) as DaemonEvent[];
  const found = [`web/b1 2 etcd ${prefix}`, `web/b2 2 etcd ${prefix}`];
  assert.deepEqual(
    a.daemon.snapshot().backends.map((x) => `${x.key} ${x.weight} ${x.source}`),
    found,
  );
  assert.deepEqual(
    (await backendsOfB()).map((x) => `${x.key} ${x.weight} ${x.source}`),
    found,
  );
  for (const events of [a.daemon.events(50), await eventsOfB()]) {
    assert.ok(events.some((e) => e.type === 'discovery' && e.what === 'invalid' && /bad: "address"/.test(e.detail)));
  }
  const r = await run(NETMON, ['ctl', '--socket', sock, 'set', 'state', 'web/b1', 'drain', '--fleet'], {
    timeout: 30_000,
  });
  const replied = performance.now();
  assert.match(r.stdout, /web\/b1: admin state drain \(fleet/);
  // the instance asked answers once it has applied it itself
  assert.equal(a.daemon.table.backends.adminState(slot('web/b1')), AdminState.Drain);
  await waitFor(
    async () => (await backendsOfB()).find((x) => x.key === 'web/b1')?.admin === 'drain',
    1000,
    'the other instance',
  );
  const lag = performance.now() - replied;
  assert.ok(lag < 1000, `applied by the other instance ${Math.round(lag)} ms after the reply`);
  t.diagnostic(`discovery etcd: --fleet drain seen applied by the other process ${Math.round(lag)} ms after the reply`);
  const ev = (await eventsOfB()).find((e) => e.type === 'state' && e.backend === 'web/b1');
  assert.equal(ev?.type === 'state' ? `${ev.to} ${ev.cause}` : '', 'drain fleet');
  const stored = JSON.parse((await etcd.client.get(prefix + 'b1').string())!) as Record<string, unknown>;
  assert.deepEqual(stored, { address: `127.0.0.1:${b1.port}`, weight: 2, state: 'drain' }, 'other fields kept');
  for (let i = 0; i < 6; i++) assert.equal(await whoAnswers(pb), 'b2', 'a drained backend gets nothing new');

  await run(NETMON, ['ctl', '--socket', sock, 'set', 'weight', 'web/b2', '7', '--fleet'], { timeout: 30_000 });
  await waitFor(
    async () => (await backendsOfB()).find((x) => x.key === 'web/b2')?.weight === 7,
    1000,
    'the fleet weight elsewhere',
  );
  assert.equal(a.daemon.table.backends.weight(slot('web/b2')), 7);

  // --fleet on a backend that is not from etcd, or a command it does not apply to
  const notFleet = await run(NETMON, ['ctl', '--socket', sock, 'show', 'pools', '--fleet'], { timeout: 30_000 }).catch(
    (e: { code: number; stderr: string }) => e,
  );
  assert.equal((notFleet as { code: number }).code, 1);
  assert.match((notFleet as { stderr: string }).stderr, /--fleet applies to set state and set weight/);
});

test('killing etcd keeps traffic on the last good set (an alert); a restarted etcd resumes the watch without a reload', async (t) => {
  if (!hasTool(t, 'etcd', 'etcd-server')) return;
  const etcd = own(t, await startEtcd());
  const prefix = `/netmon-test/${process.pid}/lost/`;
  const b1 = own(t, await startNamedEcho('b1'));
  const b2 = own(t, await startNamedEcho('b2'));
  await etcd.client.put(prefix + 'b1').value(entry(b1.port));
  // a request (a fleet write) gives up after `timeout`; a lost watch is tried again at most every `retry_max`
  const keys = [`endpoints = ["${etcd.url}"]`, 'timeout = "1s"', 'retry_max = "500ms"'];
  const { d, port } = await startDiscoveryDaemon(t, (at) =>
    config({ port: at, etcd: keys, prefix, pre: '[alerts]\nfor = "0s"\nkeep_firing_for = "0s"' }),
  );
  const alerts = own(t, startAlerts(d.daemon));
  assert.equal(await whoAnswers(port), 'b1');
  // client connections all along: while etcd is gone, and while the watch comes back
  const load = own(t, shortConnections(port, 2, 40_000));
  const lost = nextDiscovery(d, (e) => e.what === 'disconnected');
  await etcd.kill();
  await lost;
  const src = d.daemon.snapshot().pools[0]!.discovery[0]!;
  assert.equal(src.state, 'failing');
  assert.equal(src.backends, 1);
  for (let i = 0; i < 5; i++) assert.equal(await whoAnswers(port), 'b1', 'traffic goes on without etcd');
  // a fleet write cannot be made: it fails, bounded by the timeout, and changes nothing here
  const t0 = performance.now();
  await assert.rejects(d.daemon.setFleetState('web/b1', 'drain'), (err: { code: string }) => err.code === 'E_ETCD');
  assert.ok(performance.now() - t0 < 8000, `gave up after ${Math.round(performance.now() - t0)} ms`);
  assert.equal(d.daemon.snapshot().backends[0]!.admin, 'ready');
  alerts.evaluate();
  assert.ok(alerts.list().some((a) => a.name === 'discovery_failed' && a.state === 'firing'));

  const back = nextDiscovery(d, (e) => e.what === 'recovered', 15_000);
  await etcd.start();
  await back;
  const added = nextDiscovery(d, (e) => e.what === 'added');
  await etcd.client.put(prefix + 'b2').value(entry(b2.port));
  assert.equal((await added).backend, 'web/b2');
  await waitFor(async () => (await whoAnswers(port)) === 'b2', 3000, 'traffic on the backend added after the restart');
  assert.equal(d.daemon.snapshot().info.reloads, 0);
  const traffic = await load.stop();
  t.diagnostic(
    `discovery etcd: ${traffic.short} client connections across the kill and restart, failed = ${traffic.failures.length}`,
  );
  assert.deepEqual(traffic.failures, [], 'no client connection failed while etcd was gone or back');
  assert.ok((traffic.answers.get('b1') ?? 0) > 20, `connections to the last good set: ${traffic.answers.get('b1')}`);
  // (a member just restarted may drop a stream once more while it settles: the watch is restored again)
  await waitFor(
    () => {
      alerts.evaluate();
      return !alerts.list().some((a) => a.name === 'discovery_failed' && a.state === 'firing');
    },
    5000,
    'the alert resolved',
  );
});

test('username and password: an etcd with authentication serves the daemon that has them, not one without', async (t) => {
  if (!hasTool(t, 'etcd', 'etcd-server')) return;
  const etcd = own(t, await startEtcd());
  const prefix = `/netmon-test/${process.pid}/auth/`;
  const b1 = own(t, await startNamedEcho('b1'));
  await etcd.client.put(prefix + 'b1').value(entry(b1.port));
  await etcd.client.role('root').create();
  await etcd.client.user('root').create('s3cret');
  await etcd.client.user('root').addRole('root');
  await etcd.client.auth.authEnable();
  const endpoints = `endpoints = ["${etcd.url}"]`;
  const { d, port } = await startDiscoveryDaemon(t, (at) =>
    config({ port: at, etcd: [endpoints, 'username = "root"', 'password = "s3cret"', 'timeout = "1s"'], prefix }),
  );
  assert.deepEqual(
    d.daemon.snapshot().backends.map((b) => b.key),
    ['web/b1'],
  );
  assert.equal(await whoAnswers(port), 'b1');
  const { d: anonymous } = await startDiscoveryDaemon(t, (at) =>
    config({ port: at, etcd: [endpoints, 'timeout = "1s"'], prefix }),
  );
  const src = anonymous.daemon.snapshot().pools[0]!.discovery[0]!;
  assert.equal(src.state, 'failing');
  assert.match(src.error ?? '', /^disconnected: cannot read .*user name is empty/);
  assert.deepEqual(anonymous.daemon.snapshot().backends, []);
});
