// Same choice on every instance: two daemons whose configs list the same ip_hash
// backends in different orders (and hold them in different table slots) pick the
// same backend for every client address, so a client that ECMP or VRRP moves to
// another instance keeps its backend. The picks are compared with the pickers
// the workers use, built from each daemon's own table and plan, over 100,000
// addresses, then checked over real sockets from several loopback addresses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { PoolPicker } from '../../daemon/data/balance/pool-picker.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { freePort, startNamedEcho, type TestServer } from '../helpers/servers.js';
import type { TestDaemon } from '../helpers/daemon.js';

const CLIENTS = 100_000;

/** One instance's config: the pool's backends in `order`, after a decoy pool that takes other slots first. */
function config(port: number, backends: TestServer[], order: number[], decoys: number): string {
  const lines = [
    'workers = 1',
    '[metrics]',
    'listen = "off"',
    '[control]',
    `socket = "/tmp/netmon-same-choice-${process.pid}-${port}.sock"`,
    '[[listener]]',
    'name = "main"',
    `bind = "127.0.0.1:${port}"`,
    'pool = "app"',
  ];
  if (decoys > 0) {
    lines.push('[pool.decoy]', 'health = { type = "none" }');
    for (let i = 0; i < decoys; i++) lines.push('[[pool.decoy.backend]]', `name = "d${i}"`, 'address = "127.0.0.1:9"');
  }
  lines.push('[pool.app]', 'algorithm = "ip_hash"', 'health = { type = "none" }');
  for (const k of order) {
    const b = backends[k]!;
    // weights 1, 2, 1 by name: weighted tables must agree too
    lines.push(
      '[[pool.app.backend]]',
      `name = "${b.name}"`,
      `address = "127.0.0.1:${b.port}"`,
      `weight = ${k === 1 ? 2 : 1}`,
    );
  }
  return lines.join('\n') + '\n';
}

/** The worker's picker for pool "app", from the daemon's own table and plan; answers backend names. */
function picker(d: TestDaemon): (address: string) => string {
  const plan = d.daemon.topology.plan().pools.find((p) => p.name === 'app')!;
  const p = new PoolPicker({ table: d.daemon.table, pool: plan.slot, members: plan.members });
  const names = new Map(plan.members.map((m) => [m.slot, m.key]));
  const ctx = { clientAddress: '', avoid: [] as number[], now: 0, random: Math.random, retry: false };
  return (address) => {
    ctx.clientAddress = address;
    return names.get(p.pick(ctx)) ?? 'none';
  };
}

const address = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

function greeting(port: number, localAddress: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ host: '127.0.0.1', port, localAddress });
    let buf = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      buf += d;
      if (buf.includes('\n')) {
        c.destroy();
        resolve(buf.slice(0, buf.indexOf('\n')));
      }
    });
    c.on('error', reject);
  });
}

test('ip_hash: two instances with the backends in different orders pick the same backend for 100,000 clients', async (t) => {
  const backends = await Promise.all(['b1', 'b2', 'b3'].map((n) => startNamedEcho(n)));
  const [pa, pb] = [await freePort(), await freePort()];
  const a = await startTestDaemon(config(pa, backends, [0, 1, 2], 0));
  const b = await startTestDaemon(config(pb, backends, [2, 0, 1], 5));
  t.after(async () => {
    await a.stop();
    await b.stop();
    await Promise.all(backends.map((s) => s.close()));
  });
  const slotsOf = (d: TestDaemon): number[] =>
    ['b1', 'b2', 'b3'].map((n) => d.daemon.topology.backends.get(`app/${n}`)!);
  assert.notDeepEqual(slotsOf(a), slotsOf(b), 'the two instances hold the backends in different slots');

  const pickA = picker(a);
  const pickB = picker(b);
  const counts = new Map<string, number>();
  let differ = 0;
  for (let i = 0; i < CLIENTS; i++) {
    const x = pickA(address(i));
    if (x !== pickB(address(i))) differ++;
    counts.set(x, (counts.get(x) ?? 0) + 1);
  }
  assert.equal(differ, 0, `${differ} of ${CLIENTS} clients would change backend between the instances`);
  // and the answer is a real spread, in proportion to the weights 1:2:1
  const share = (k: string): number => (counts.get(k) ?? 0) / CLIENTS;
  assert.ok(Math.abs(share('app/b2') - 0.5) < 0.02, `b2 share ${share('app/b2')}`);
  assert.ok(Math.abs(share('app/b1') - 0.25) < 0.02 && Math.abs(share('app/b3') - 0.25) < 0.02);

  // real sockets: what each daemon's workers answer is what its picker says, on both
  for (let k = 2; k < 42; k++) {
    const local = `127.0.0.${k}`;
    const [viaA, viaB] = [await greeting(pa, local), await greeting(pb, local)];
    assert.equal(viaA, viaB, `client ${local}`);
    assert.equal(`app/${viaA}`, pickA(local), `client ${local}: the worker picked what the picker says`);
  }
  t.diagnostic(
    `fleet same-choice: ${CLIENTS} clients, 0 differ; shares ${['b1', 'b2', 'b3'].map((n) => `${n}=${(share(`app/${n}`) * 100).toFixed(1)}%`).join(' ')}`,
  );
});
