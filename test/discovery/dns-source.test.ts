// DNS sources against a scripted resolver and a hand-moved clock: when the next
// question is asked (the TTL within timeout.resolve and hold.valid), what a
// failure keeps and for how long (the hold time of its kind, from the last good
// answer), and how SRV records become backends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AddressSource, SrvSource, srvWeightScale } from '../../daemon/control/discovery/dns-source.js';
import {
  ResolveError,
  type AddressRecord,
  type Dns,
  type SrvRecord,
} from '../../daemon/control/discovery/dns-client.js';
import type { SourceNotice } from '../../daemon/control/discovery/source.js';
import { DEFAULT_RESOLVERS } from '../../daemon/config/defaults.js';
import type { ResolversConfig } from '../../daemon/config/schema.js';

type Answer = AddressRecord[] | ResolveError;

class ScriptedDns implements Dns {
  readonly hosts = new Map<string, Answer>();
  srvAnswer: SrvRecord[] | ResolveError = [];
  async addresses(host: string): Promise<AddressRecord[]> {
    const a = this.hosts.get(host) ?? new ResolveError('nx', 'ENOTFOUND', `${host}: ENOTFOUND`);
    if (a instanceof ResolveError) throw a;
    return a;
  }
  async srv(): Promise<SrvRecord[]> {
    if (this.srvAnswer instanceof ResolveError) throw this.srvAnswer;
    return this.srvAnswer;
  }
}

const v4 = (address: string, ttl: number | null = 30): AddressRecord => ({ address, family: 4, ttl });

function harness(resolvers: Partial<ResolversConfig> = {}) {
  const cfg: ResolversConfig = {
    ...DEFAULT_RESOLVERS,
    timeouts: { resolve: 1000, retry: 1000 },
    hold: { valid: 60_000, nx: 10_000, timeout: 20_000, refused: 20_000 },
    ...resolvers,
  };
  const dns = new ScriptedDns();
  const clock = { now: 1_000_000 };
  const notices: SourceNotice[] = [];
  let changes = 0;
  const hooks = {
    now: () => clock.now,
    changed: () => void changes++,
    notice: (n: SourceNotice) => void notices.push(n),
  };
  const ctx = { dns: () => dns, resolvers: () => cfg };
  return { cfg, dns, clock, notices, hooks, ctx, changes: () => changes };
}

test("the next question comes at the answer's TTL, raised to timeout.resolve and cut to hold.valid", async () => {
  const h = harness();
  const s = new AddressSource('app.test', 8080, h.hooks, h.ctx);
  try {
    for (const [ttl, next] of [
      [30, 30_000],
      [0, 1000],
      [3600, 60_000],
      [null, 60_000],
    ] as const) {
      h.dns.hosts.set('app.test', [v4('10.0.0.1', ttl), v4('10.0.0.2', 90)]);
      await s.refresh();
      assert.equal(s.nextRefresh! - h.clock.now, next, `TTL ${ttl}`);
    }
    assert.deepEqual(
      s.set.map((f) => f.id),
      ['10.0.0.1:8080', '10.0.0.2:8080'],
    );
    assert.equal(h.changes(), 1, 'the same set again is no change');
  } finally {
    s.stop();
  }
});

test('a failure keeps the last good set for the hold time of its kind, from the last good answer, then drops it', async () => {
  const h = harness();
  const s = new AddressSource('app.test', 8080, h.hooks, h.ctx);
  try {
    h.dns.hosts.set('app.test', [v4('10.0.0.1'), v4('10.0.0.2')]);
    await s.refresh();
    assert.equal(s.state, 'ok');
    const good = s.lastSuccess;

    h.dns.hosts.set('app.test', new ResolveError('timeout', 'ETIMEOUT', 'app.test A: ETIMEOUT'));
    h.clock.now += 5000;
    await s.refresh();
    assert.equal(s.state, 'failing');
    assert.equal(s.set.length, 2, 'kept');
    assert.equal(s.nextRefresh! - h.clock.now, 1000, 'asked again after timeout.resolve');
    h.clock.now += 10_000;
    await s.refresh();
    assert.deepEqual(
      h.notices.map((n) => n.what),
      ['failed'],
      'one notice per streak',
    );
    assert.equal(s.failures.timeout, 2);

    h.clock.now = good! + 20_000; // hold.timeout from the last good answer
    await s.refresh();
    assert.equal(s.state, 'expired');
    assert.deepEqual(s.set, []);
    assert.deepEqual(
      h.notices.map((n) => n.what),
      ['failed', 'expired'],
    );
    assert.equal(h.changes(), 2, 'the first set, then the drop');

    h.dns.hosts.set('app.test', [v4('10.0.0.3')]);
    h.clock.now += 1000;
    await s.refresh();
    assert.equal(s.state, 'ok');
    assert.equal(s.error, null);
    assert.deepEqual(
      h.notices.map((n) => n.what),
      ['failed', 'expired', 'recovered'],
    );
    assert.equal(h.changes(), 3);
  } finally {
    s.stop();
  }
});

test('hold nx = 0: a name that stops existing drops its backends at once; a source never answered has nothing to drop', async () => {
  const h = harness({ hold: { valid: 60_000, nx: 0, timeout: 20_000, refused: 20_000 } });
  const s = new AddressSource('app.test', 80, h.hooks, h.ctx);
  const never = new AddressSource('never.test', 80, h.hooks, h.ctx);
  try {
    h.dns.hosts.set('app.test', [v4('10.0.0.1')]);
    await s.refresh();
    h.dns.hosts.delete('app.test');
    await s.refresh();
    assert.equal(s.state, 'expired');
    assert.equal(s.failures.nx, 1);
    await never.refresh();
    assert.equal(never.state, 'failing');
    assert.match(never.error ?? '', /^nx: never\.test/);
  } finally {
    s.stop();
    never.stop();
  }
});

test('SRV: the lowest priority is primary, higher ones backups; a target that does not exist is skipped; "." is no service', async () => {
  const h = harness();
  const s = new SrvSource('_app._tcp.test', h.hooks, h.ctx);
  try {
    h.dns.srvAnswer = [
      { name: 'b.test', port: 81, priority: 20, weight: 0 },
      { name: 'a.test', port: 80, priority: 10, weight: 60 },
      { name: 'A.test', port: 82, priority: 10, weight: 20 },
      { name: 'gone.test', port: 83, priority: 10, weight: 20 },
    ];
    h.dns.hosts.set('a.test', [v4('10.0.0.1', 20)]);
    h.dns.hosts.set('b.test', [v4('10.0.0.2', 5), { address: '2001:db8::2', family: 6, ttl: 40 }]);
    await s.refresh();
    assert.deepEqual(
      s.set.map((f) => `${f.id} w${f.weight} ${f.backup ? 'backup' : 'primary'} ${f.host}`),
      [
        '10.0.0.1:80 w60 primary a.test',
        '10.0.0.1:82 w20 primary a.test',
        '10.0.0.2:81 w1 backup b.test',
        '[2001:db8::2]:81 w1 backup b.test',
      ],
    );
    assert.equal(s.nextRefresh! - h.clock.now, 5000, 'the shortest TTL of its targets');

    h.dns.srvAnswer = [{ name: '.', port: 0, priority: 0, weight: 0 }];
    await s.refresh();
    assert.equal(s.state, 'failing');
    assert.equal(s.failures.nx, 1);
    h.dns.srvAnswer = new ResolveError('refused', 'ESERVFAIL', '_app._tcp.test SRV: ESERVFAIL');
    await s.refresh();
    assert.equal(s.failures.refused, 1);
    assert.equal(s.set.length, 4, 'kept through both');
  } finally {
    s.stop();
  }
});

test('SRV weights 0..65535 become 1..256: kept up to 256, scaled above, 0 is the smallest share', () => {
  const rec = (weight: number): SrvRecord => ({ name: 'x', port: 1, priority: 0, weight });
  const small = [rec(0), rec(5), rec(256)];
  assert.deepEqual(small.map(srvWeightScale(small)), [1, 5, 256]);
  const big = [rec(0), rec(100), rec(1000), rec(65535)];
  assert.deepEqual(big.map(srvWeightScale(big)), [1, 1, 4, 256]);
});

test('a stopped source ignores the answer it was waiting for', async () => {
  const h = harness();
  const s = new AddressSource('app.test', 80, h.hooks, h.ctx);
  h.dns.hosts.set('app.test', [v4('10.0.0.1')]);
  const pending = s.refresh();
  s.stop();
  await pending;
  assert.equal(s.state, 'pending');
  assert.deepEqual(s.set, []);
  assert.equal(h.changes(), 0);
});
