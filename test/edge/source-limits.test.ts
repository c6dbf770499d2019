// The shared per-source table with two Table views on one buffer, as two
// worker threads have them: token bucket on a fake clock, max_connections
// across views, claim races (stepped by hand, then real threads), eviction of
// a full table, a dead worker's share, and what `show clients` reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { Table } from '../../daemon/state/table.js';
import type { TableCapacity } from '../../daemon/state/layout.js';
import { SourceLimiter } from '../../daemon/data/edge/source-limits.js';
import { parseIp } from '../../daemon/net/ip.js';
import { SourceIndex } from '../../daemon/data/edge/source-index.js';
import { readClients, SourceWatch } from '../../daemon/control/sources/source-clients.js';
import type { SourceLimits } from '../../daemon/config/schema.js';
import type { RaceInit } from './source-race-worker.js';

function limits(l: Partial<SourceLimits>): SourceLimits {
  return { maxConnections: 0, rate: 0, burst: 1, prefixV4: 32, prefixV6: 64, tableSize: 1000, ...l };
}

const clock = { now: 0 };

/** Two views of one table (workers 0 and 1), each with a limiter for listener 0. */
function twoViews(
  l: Partial<SourceLimits>,
  sources = 1024,
  quota = l.tableSize ?? 1000,
): { a: SourceLimiter; b: SourceLimiter; ta: Table; tb: Table } {
  const cap: TableCapacity = { workers: 2, listeners: 2, pools: 1, backends: 1, sources };
  const ta = new Table(cap);
  const tb = new Table(cap, ta.buffer);
  const now = (): number => clock.now;
  const a = new SourceLimiter(limits(l), { table: ta, worker: 0, listener: 0, now }, quota);
  const b = new SourceLimiter(limits(l), { table: tb, worker: 1, listener: 0, now }, quota);
  return { a, b, ta, tb };
}

function admitted(s: SourceLimiter, address: string): number {
  const r = s.admit(parseIp(address));
  assert.equal(r, 'ok', `${address} admitted`);
  assert.ok(s.entry >= 0, `${address} has an entry`);
  return s.entry;
}

test('token bucket: burst then the refill rate, shared by both views', () => {
  clock.now = 0;
  const { a, b, ta } = twoViews({ rate: 10, burst: 3 });
  const ip = '192.0.2.1';
  assert.deepEqual(
    [a.admit(parseIp(ip)), b.admit(parseIp(ip)), a.admit(parseIp(ip)), b.admit(parseIp(ip))],
    ['ok', 'ok', 'ok', 'rate_limit'],
  );
  clock.now += 100; // 10/s refills one token in 100 ms
  assert.equal(b.admit(parseIp(ip)), 'ok');
  assert.equal(a.admit(parseIp(ip)), 'rate_limit');
  clock.now += 50;
  assert.equal(a.admit(parseIp(ip)), 'rate_limit', 'half a token is not a token');
  clock.now += 50;
  assert.equal(a.admit(parseIp(ip)), 'ok', 'the two halves make one');
  clock.now += 10_000;
  assert.deepEqual(
    [a.admit(parseIp(ip)), b.admit(parseIp(ip)), a.admit(parseIp(ip)), b.admit(parseIp(ip))],
    ['ok', 'ok', 'ok', 'rate_limit'],
    'never above burst',
  );
  const [c] = readClients(ta, [0], 10);
  assert.deepEqual(c, { address: ip, active: 8, connections: 8, rejected: 4 });
});

test('a refill time far behind the clock (the int32 ms clock wrapped) gives a full bucket', () => {
  clock.now = 0;
  const { a } = twoViews({ rate: 1, burst: 2 });
  assert.deepEqual(
    [a.admit(parseIp('192.0.2.1')), a.admit(parseIp('192.0.2.1')), a.admit(parseIp('192.0.2.1'))],
    ['ok', 'ok', 'rate_limit'],
  );
  clock.now = -2_000_000_000; // 2^32 - 2e9 ms later, as (now - last) | 0 sees it
  assert.deepEqual(
    [a.admit(parseIp('192.0.2.1')), a.admit(parseIp('192.0.2.1')), a.admit(parseIp('192.0.2.1'))],
    ['ok', 'ok', 'rate_limit'],
  );
});

test('max_connections holds across views; a close in one frees a slot for the other', () => {
  const { a, b, ta } = twoViews({ maxConnections: 3 });
  const e1 = admitted(a, '192.0.2.1');
  const e2 = admitted(b, '192.0.2.1');
  assert.equal(e1, e2, 'both views found the same entry');
  admitted(a, '192.0.2.1');
  assert.equal(b.admit(parseIp('192.0.2.1')), 'max_connections');
  assert.equal(a.admit(parseIp('192.0.2.1')), 'max_connections');
  a.release(e1);
  assert.equal(b.admit(parseIp('192.0.2.1')), 'ok');
  assert.equal(ta.sources.active(e1), 3);
  assert.equal(b.admit(parseIp('192.0.2.2')), 'ok', 'another source has its own count');
});

test('sources group by prefix; IPv4-mapped IPv6 is the IPv4 client', () => {
  const { a, b, ta } = twoViews({ prefixV4: 24, prefixV6: 48 });
  const e = admitted(a, '10.1.2.3');
  assert.equal(admitted(b, '10.1.2.200'), e);
  assert.equal(admitted(b, '::ffff:10.1.2.9'), e);
  admitted(a, '2001:db8:1:2::7');
  assert.equal(a.admit(parseIp('not-an-ip')), 'ok');
  assert.equal(a.entry, -1, 'not an IP: admitted untracked');
  const shown = readClients(ta, [0], 10)
    .map((c) => c.address)
    .sort();
  assert.deepEqual(shown, ['10.1.2.0/24', '2001:db8:1::/48']);
});

test('claim race: a source being written by one view is waited for, never inserted twice', () => {
  const { a, ta, tb } = twoViews({ maxConnections: 5 });
  // where 192.0.2.7 goes: learn it on a scratch table of the same shape
  const scratch = twoViews({ maxConnections: 5 });
  const slot = admitted(scratch.a, '192.0.2.7');
  // view A won the claim of that empty entry and has not written it yet
  const tag = ta.sources.tag(slot);
  assert.ok(ta.sources.claim(0, slot, tag));
  const b = new SourceLimiter(limits({ maxConnections: 5 }), { table: tb, worker: 1, listener: 0, now: () => 0 }, 1000);
  assert.equal(b.admit(parseIp('192.0.2.7')), 'ok');
  assert.equal(b.entry, -1, 'B neither claimed another entry nor used the half-written one');
  assert.equal(tb.sources.listenerStats(0).degraded, 1, 'and the untracked admission is counted');
  // A finishes: now B finds A's entry
  const key = new Int32Array([(4 << 8) | 32, 0xc0000207 | 0, 0, 0, 0]);
  ta.sources.write(slot, ta.sources.ownerWord(0), key, 0x40000000, 0);
  ta.sources.publish(slot, tag);
  ta.sources.addEntries(0, 1);
  assert.equal(admitted(b, '192.0.2.7'), slot);
  assert.equal(admitted(a, '192.0.2.7'), slot);
  assert.equal(ta.sources.listenerStats(0).entries, 1);
});

test('claim race: the loser of the compareExchange looks again and finds the winner', () => {
  const { ta, tb } = twoViews({});
  const ia = new SourceIndex(ta, 0);
  const ib = new SourceIndex(tb, 1);
  const key = new Int32Array([(4 << 8) | 32, 0x0a000001, 0, 0, 0]);
  const owner = ta.sources.ownerWord(0);
  const i = ia.find(owner, 0, key, 1000, 1, 0);
  assert.ok(i >= 0);
  assert.equal(ib.find(owner, 0, key, 1000, 1, 0), i);
  assert.equal(ib.tag, ia.tag);
});

test('two real threads admitting the same new sources at once: one entry each, max_connections exact', async () => {
  const sources = 3000;
  for (const size of [16384, 512]) {
    // 16384: room for all; 512: the table fills with held sources and the rest go untracked
    const cap: TableCapacity = { workers: 4, listeners: 1, pools: 1, backends: 1, sources: size };
    const table = new Table(cap);
    const start = new SharedArrayBuffer(8);
    const flag = new Int32Array(start);
    const threads = [0, 1, 2, 3].map((worker) => {
      const init: RaceInit = {
        buffer: table.buffer,
        cap,
        worker,
        start,
        limits: limits({ maxConnections: 1, tableSize: sources }),
        quota: sources,
        sources,
      };
      return new Worker(new URL('./source-race-worker.js', import.meta.url), { workerData: init });
    });
    // listened for now: a thread may exit before its result is read
    const exits = threads.map((t) => new Promise((r) => t.once('exit', r)));
    const results = threads.map(
      (t) =>
        new Promise<{ ok: number; untracked: number; held: number[] }>((resolve, reject) => {
          t.once('message', resolve);
          t.once('error', reject);
        }),
    );
    const deadline = Date.now() + 10_000;
    while (Atomics.load(flag, 1) < threads.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    const got = await Promise.all(results);
    await Promise.all(exits);

    const clients = readClients(table, [0], sources * 2);
    const addresses = new Set(clients.map((c) => c.address));
    assert.equal(addresses.size, clients.length, `size ${size}: no source has two entries`);
    for (const c of clients) assert.ok(c.active <= 1, `size ${size}: ${c.address} has ${c.active} > max_connections`);
    const tracked = clients.reduce((s, c) => s + c.active, 0);
    const ok = got.reduce((s, r) => s + r.ok, 0);
    const untracked = got.reduce((s, r) => s + r.untracked, 0);
    assert.equal(ok, tracked + untracked, `size ${size}: every admission is on one entry or counted untracked`);
    if (size === 16384) {
      assert.equal(tracked, sources, 'every source admitted exactly once over the four threads');
      assert.equal(untracked, 0);
      assert.equal(table.sources.listenerStats(0).entries, sources);
    } else {
      assert.ok(
        untracked > 0 && table.sources.listenerStats(0).degraded >= untracked,
        'a full table degrades, counted',
      );
    }
    // the threads exited holding their connections: the main thread gives their shares back
    for (let w = 0; w < threads.length; w++) table.releaseWorker(w);
    assert.equal(
      readClients(table, [0], sources * 2).reduce((s, c) => s + c.active, 0),
      0,
      'nothing held after the workers are gone',
    );
  }
});

test('a full table replaces the least recently seen idle source; a source with a connection is never replaced', () => {
  clock.now = 0;
  // 16 entries: the probe window is the whole table, so what is evicted is predictable
  const { a, b, ta } = twoViews({ maxConnections: 1, tableSize: 16 }, 16);
  const held = admitted(a, '192.0.2.200');
  for (let i = 0; i < 15; i++) {
    clock.now = 10 + i;
    const s = i % 2 === 0 ? a : b;
    s.release(admitted(s, `10.0.0.${i}`));
  }
  assert.equal(ta.sources.listenerStats(0).entries, 16);
  clock.now = 100;
  b.release(admitted(b, '10.0.0.0')); // seen again: no longer the oldest
  clock.now = 101;
  b.release(admitted(b, '10.0.1.1')); // replaces 10.0.0.1, now the least recently seen
  const shown = new Set(readClients(ta, [0], 100).map((c) => c.address));
  assert.ok(shown.has('10.0.0.0') && shown.has('10.0.1.1') && !shown.has('10.0.0.1'), [...shown].join(' '));
  assert.equal(ta.sources.listenerStats(0).evictions, 1);
  for (let i = 0; i < 500; i++) {
    clock.now = 200 + i;
    b.release(admitted(b, `10.1.${i >> 8}.${i & 255}`));
  }
  assert.equal(ta.sources.listenerStats(0).entries, 16, 'bounded by table_size');
  assert.equal(b.admit(parseIp('192.0.2.200')), 'max_connections', 'the held source kept its entry and its count');
  a.release(held);
  assert.equal(b.admit(parseIp('192.0.2.200')), 'ok');
});

test('when every entry holds a connection, a new source is admitted untracked and counted as degraded', () => {
  const { a, ta } = twoViews({ maxConnections: 5, tableSize: 16 }, 16);
  for (let i = 0; i < 16; i++) admitted(a, `10.0.0.${i}`);
  assert.equal(a.admit(parseIp('10.0.1.0')), 'ok');
  assert.equal(a.entry, -1);
  assert.equal(ta.sources.listenerStats(0).degraded, 1);
  assert.equal(ta.sources.listenerStats(0).evictions, 0);
});

test('at its table_size a listener replaces only its own sources, not those of another listener', () => {
  const cap: TableCapacity = { workers: 1, listeners: 2, pools: 1, backends: 1, sources: 16 };
  const t = new Table(cap);
  const now = (): number => 0;
  const small = new SourceLimiter(limits({ maxConnections: 9 }), { table: t, worker: 0, listener: 0, now }, 4);
  const big = new SourceLimiter(limits({ maxConnections: 9 }), { table: t, worker: 0, listener: 1, now }, 100);
  for (let i = 0; i < 8; i++) big.release(admitted(big, `10.9.0.${i}`));
  for (let i = 0; i < 50; i++) small.release(admitted(small, `10.0.0.${i}`));
  assert.equal(t.sources.listenerStats(0).entries, 4);
  assert.equal(t.sources.listenerStats(1).entries, 8, 'the other listener kept all its sources');
});

test('at its table_size with none of its own sources nearby, a listener takes a free entry; the main thread trims it back', () => {
  clock.now = 0;
  // 1024 entries, table_size 4: most new sources find no entry of their listener in their window
  const { a, b, ta } = twoViews({ maxConnections: 1, tableSize: 4 }, 1024);
  const held = admitted(a, '192.0.2.200');
  for (let i = 0; i < 50; i++) {
    clock.now = 10 + i;
    const s = i % 2 === 0 ? a : b;
    s.release(admitted(s, `10.0.0.${i}`));
  }
  assert.ok(ta.sources.listenerStats(0).entries > 4, 'over its size until trimmed');
  assert.equal(ta.sources.listenerStats(0).degraded, 0, 'every source was tracked');
  const watch = new SourceWatch(ta, () => clock.now);
  watch.trim([{ name: 'web', slot: 0, quota: 4 }]);
  assert.equal(ta.sources.listenerStats(0).entries, 4);
  const kept = readClients(ta, [0], 100).map((c) => c.address);
  assert.deepEqual(
    new Set(kept),
    new Set(['192.0.2.200', '10.0.0.47', '10.0.0.48', '10.0.0.49']),
    'the held source and the most recent',
  );
  assert.equal(b.admit(parseIp('192.0.2.200')), 'max_connections', 'the held source kept its count');
  a.release(held);
  assert.equal(b.admit(parseIp('10.0.0.49')), 'ok');
});

test('a dead worker: its connections are given back and a rewrite it left half done is undone', () => {
  const { a, b, ta, tb } = twoViews({ maxConnections: 2 });
  const e = admitted(a, '192.0.2.1');
  admitted(a, '192.0.2.1');
  assert.equal(b.admit(parseIp('192.0.2.1')), 'max_connections');
  // worker 0 also dies in the middle of claiming the entry for a new source
  const scratch = twoViews({ maxConnections: 2 });
  const slot = admitted(scratch.a, '192.0.2.9');
  assert.ok(ta.sources.claim(0, slot, ta.sources.tag(slot)));
  ta.releaseWorker(0);
  assert.equal(tb.sources.active(e), 0);
  assert.equal(b.admit(parseIp('192.0.2.1')), 'ok');
  admitted(b, '192.0.2.9'); // the half-written entry no longer blocks the source
});

test('a listener slot given to a new listener starts with no sources', () => {
  const { a, ta } = twoViews({ maxConnections: 1 });
  admitted(a, '192.0.2.1');
  assert.equal(readClients(ta, [0], 10).length, 1);
  ta.listeners.reset(0);
  const fresh = new SourceLimiter(
    limits({ maxConnections: 1 }),
    { table: ta, worker: 0, listener: 0, now: () => 0 },
    1000,
  );
  assert.equal(fresh.admit(parseIp('192.0.2.1')), 'ok', 'the old count does not apply to the new listener');
  assert.deepEqual(readClients(ta, [0], 10), [{ address: '192.0.2.1', active: 1, connections: 1, rejected: 0 }]);
});

test('show clients orders by rejections, then open connections, then connections, and sums listeners', () => {
  const cap: TableCapacity = { workers: 1, listeners: 2, pools: 1, backends: 1, sources: 64 };
  const t = new Table(cap);
  const now = (): number => 0;
  const l0 = new SourceLimiter(limits({ maxConnections: 1 }), { table: t, worker: 0, listener: 0, now }, 64);
  const l1 = new SourceLimiter(limits({ maxConnections: 1 }), { table: t, worker: 0, listener: 1, now }, 64);
  admitted(l0, '192.0.2.1');
  assert.equal(l0.admit(parseIp('192.0.2.1')), 'max_connections');
  admitted(l1, '192.0.2.1');
  assert.equal(l1.admit(parseIp('192.0.2.1')), 'max_connections');
  admitted(l1, '2001:db8::5');
  l1.release(admitted(l1, '192.0.2.3'));
  l0.reject(parseIp('192.0.2.4'));
  assert.deepEqual(readClients(t, [0, 1], 10), [
    { address: '192.0.2.1', active: 2, connections: 2, rejected: 2 },
    { address: '192.0.2.4', active: 0, connections: 0, rejected: 1 },
    { address: '2001:db8::/64', active: 1, connections: 1, rejected: 0 },
    { address: '192.0.2.3', active: 0, connections: 1, rejected: 0 },
  ]);
  assert.equal(readClients(t, [0, 1], 1).length, 1);
  assert.deepEqual(readClients(t, [0, 1], 0), []);
  assert.deepEqual(
    readClients(t, [1], 10).map((c) => c.address),
    ['192.0.2.1', '2001:db8::/64', '192.0.2.3'],
  );
});
