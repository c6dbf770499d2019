// The per-source table on a fake clock: token bucket, concurrent limit, prefix
// grouping, the bounded LRU, and the shared region `show clients` reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SourceTable } from '../../daemon/edge/source-limits.js';
import { ClientsPublisher, createClientsRegion, readClients } from '../../daemon/edge/clients-region.js';
import type { SourceLimits } from '../../daemon/config/schema.js';

function limits(l: Partial<SourceLimits>): SourceLimits {
  return { maxConnections: 0, rate: 0, burst: 1, prefixV4: 32, prefixV6: 64, tableSize: 1000, ...l };
}

test('token bucket: burst then the refill rate', () => {
  let now = 0;
  const t = new SourceTable(limits({ rate: 10, burst: 3 }), () => now);
  const e = t.lookup('192.0.2.1')!;
  assert.deepEqual([t.admit(e), t.admit(e), t.admit(e), t.admit(e)], ['ok', 'ok', 'ok', 'rate_limit']);
  now += 100; // 10/s refills one token in 100 ms
  assert.equal(t.admit(e), 'ok');
  assert.equal(t.admit(e), 'rate_limit');
  now += 10_000;
  assert.deepEqual(
    [t.admit(e), t.admit(e), t.admit(e), t.admit(e)],
    ['ok', 'ok', 'ok', 'rate_limit'],
    'never above burst',
  );
  assert.equal(e.rejected, 3);
  assert.equal(e.connections, 7);
});

test('max_connections per source, released on close', () => {
  const t = new SourceTable(limits({ maxConnections: 2 }));
  const e = t.lookup('192.0.2.1')!;
  assert.equal(t.admit(e), 'ok');
  assert.equal(t.admit(e), 'ok');
  assert.equal(t.admit(e), 'max_connections');
  t.release(e);
  assert.equal(t.admit(e), 'ok');
  assert.equal(t.lookup('192.0.2.2')!.active, 0, 'another source has its own count');
});

test('sources group by prefix; IPv4-mapped IPv6 is the IPv4 client', () => {
  const t = new SourceTable(limits({ prefixV4: 24, prefixV6: 48 }));
  assert.equal(t.lookup('10.1.2.3')!.key, '10.1.2.0/24');
  assert.equal(t.lookup('10.1.2.200'), t.lookup('10.1.2.3'));
  assert.equal(t.lookup('::ffff:10.1.2.9'), t.lookup('10.1.2.3'));
  assert.equal(t.lookup('2001:db8:1:2::7')!.key, '2001:db8:1::/48');
  assert.equal(t.lookup('not-an-ip'), null);
});

test('a flood of sources is bounded by table_size; the least recently seen goes first', () => {
  const t = new SourceTable(limits({ tableSize: 100, maxConnections: 5 }));
  const busy = t.lookup('192.0.2.1')!;
  t.admit(busy); // holds a connection: not evicted
  for (let i = 0; i < 10_000; i++) t.lookup(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  assert.ok(t.size <= 100, `size ${t.size}`);
  assert.equal(t.lookup('192.0.2.1'), busy, 'a source with an open connection keeps its entry');
  assert.equal(t.lookup('10.0.0.0')!.connections, 0, 'an old idle source was forgotten and starts over');
});

test('the clients region merges workers and orders by rejections', () => {
  const region = createClientsRegion(2);
  const a = new SourceTable(limits({ maxConnections: 1 }));
  const b = new SourceTable(limits({ maxConnections: 1 }));
  const x = a.lookup('192.0.2.1')!;
  a.admit(x);
  a.admit(x); // rejected
  const y = b.lookup('192.0.2.1')!;
  b.admit(y);
  b.admit(y); // rejected
  const z = b.lookup('2001:db8::5')!;
  b.admit(z);
  new ClientsPublisher(region, 2, 0).publish(a.values());
  new ClientsPublisher(region, 2, 1).publish(b.values());
  assert.deepEqual(readClients(region, 2, 10), [
    { address: '192.0.2.1', active: 2, connections: 2, rejected: 2 },
    { address: '2001:db8::/64', active: 1, connections: 1, rejected: 0 },
  ]);
  assert.equal(readClients(region, 2, 1).length, 1);
  assert.deepEqual(readClients(region, 2, 0), []);
});
