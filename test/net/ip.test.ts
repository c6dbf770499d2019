// The one address parser (daemon/net/ip.ts): strict spellings, IPv4-mapped
// addresses and ranges held as IPv4, and the range set built from typed ranges.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientAddress, formatIp, formatIpRange, parseIp, parseIpRange, type IpRange } from '../../daemon/net/ip.js';
import { IpRangeSet } from '../../daemon/data/edge/range-set.js';
import { Acl } from '../../daemon/data/edge/acl.js';

function range(text: string): IpRange {
  const r = parseIpRange(text);
  assert.ok(r.ok, `${text}: ${r.ok ? '' : r.reason}`);
  return r.range;
}

function reason(text: string): string {
  const r = parseIpRange(text);
  assert.ok(!r.ok, `${text} must be refused, got ${JSON.stringify(r)}`);
  return r.reason;
}

test('addresses: IPv4, IPv6, and IPv4-mapped IPv6 read as the IPv4 address', () => {
  assert.deepEqual(parseIp('127.0.0.1'), { family: 4, bytes: [127, 0, 0, 1] });
  assert.deepEqual(parseIp('::ffff:127.0.0.1'), { family: 4, bytes: [127, 0, 0, 1] });
  assert.deepEqual(parseIp('::FFFF:7f00:1'), { family: 4, bytes: [127, 0, 0, 1] });
  assert.deepEqual(parseIp('0:0:0:0:0:ffff:127.0.0.1'), { family: 4, bytes: [127, 0, 0, 1] });
  assert.equal(formatIp(parseIp('2001:DB8:0:0::1')!), '2001:db8::1');
  assert.equal(parseIp('::ffff:0:7f00:1')?.family, 6, '::ffff:0:0/96 (SIIT) is not the mapped block');
  for (const bad of ['127.1', '0127.0.0.1', '127.0.0.01', '0x7f.0.0.1', '256.0.0.1', '1.2.3.4.5', '::1.2.3.4']) {
    assert.equal(parseIp(bad), null, bad);
  }
  for (const bad of ['fe80::1%eth0', '::ffff:127.0.0.01', '1::2::3', '12345::', '', ' 10.0.0.1', 'localhost']) {
    assert.equal(parseIp(bad), null, bad);
  }
});

test('ranges: canonical typed values; mapped ranges are IPv4 ranges', () => {
  assert.deepEqual(range('127.0.0.0/8'), { family: 4, bytes: [127, 0, 0, 0], prefix: 8 });
  assert.deepEqual(range('::ffff:127.0.0.0/104'), { family: 4, bytes: [127, 0, 0, 0], prefix: 8 });
  assert.deepEqual(range('::ffff:0:0/96'), { family: 4, bytes: [0, 0, 0, 0], prefix: 0 });
  assert.deepEqual(range('10.1.2.3'), { family: 4, bytes: [10, 1, 2, 3], prefix: 32 });
  assert.equal(formatIpRange(range('2001:db8::/32')), '2001:db8::/32');
  assert.equal(formatIpRange(range('::/0')), '::/0');
  assert.equal(range('::fffe:0:0/95').family, 6, 'a range wider than the mapped block stays IPv6');
});

test('ranges the validator cannot read say why', () => {
  assert.match(reason('127.0.0.0/08'), /prefix "\/08".*without leading zeros/);
  assert.match(reason('2001:db8::/032'), /prefix "\/032"/);
  assert.match(reason('10.0.0.0/33'), /0\.\.32/);
  assert.match(reason('::/129'), /0\.\.128/);
  assert.match(reason('10.0.0.1/8'), /host bits.*"10\.0\.0\.0\/8"/);
  assert.match(reason('::ffff:10.0.0.1/104'), /host bits.*"10\.0\.0\.0\/8"/);
  assert.match(reason('010.0.0.0/8'), /without leading zeros/);
  assert.match(reason('::10.0.0.1'), /deprecated IPv4-compatible/);
  assert.match(reason('fe80::1%eth0/128'), /zone/);
  for (const bad of ['', '/8', '10.0.0.0/', '10.0.0.0/8 ', '10.0.0.0/+8', '10.0.0.0/8/8', '10.0.0.0/0x8']) reason(bad);
});

test('a range set matches in one space: IPv4 clients against IPv4 ranges and the IPv6 ranges that cover them', () => {
  const set = new IpRangeSet([range('10.0.0.0/8'), range('2001:db8::/32'), range('::/96')]);
  const has = (t: string): boolean => set.has(clientAddress(t).ip);
  assert.equal(has('10.1.2.3'), true);
  assert.equal(has('::ffff:10.1.2.3'), true);
  assert.equal(has('11.0.0.1'), false);
  assert.equal(has('2001:db8::7'), true);
  assert.equal(has('2001:db9::7'), false);
  assert.equal(has('::5'), true);
  assert.equal(has('not-an-address'), false);
  const all6 = new IpRangeSet([range('::/0')]);
  assert.equal(all6.has(parseIp('192.0.2.1')), true, '::/0 covers ::ffff:0:0/96');
  assert.equal(new IpRangeSet([range('0.0.0.0/0')]).has(parseIp('::1')), false);
});

test('a range set refuses values no loader produces instead of matching something else', () => {
  assert.throws(() => new IpRangeSet([{ family: 4, bytes: [10, 0, 0, 1], prefix: 8 }]), /host bits/);
  assert.throws(() => new IpRangeSet([{ family: 4, bytes: [10, 0, 0], prefix: 8 }]), RangeError);
  assert.throws(() => new IpRangeSet([{ family: 6, bytes: new Array<number>(16).fill(0), prefix: 129 }]), RangeError);
  assert.throws(() => new IpRangeSet([{ family: 4, bytes: [300, 0, 0, 0], prefix: 8 }]), RangeError);
});

test('the ACL: deny wins, a non-empty allow list admits only its ranges, a client that is not an IP is refused', () => {
  const acl = new Acl([range('127.0.0.0/8')], [range('127.0.0.2')]);
  assert.equal(acl.check(clientAddress('127.0.0.1').ip), 'allow');
  assert.equal(acl.check(clientAddress('::ffff:127.0.0.2').ip), 'deny');
  assert.equal(acl.check(clientAddress('10.0.0.1').ip), 'deny');
  assert.equal(acl.check(clientAddress('').ip), 'deny');
  assert.equal(Acl.of({ allow: [], deny: [] }), null);
});

test('a client address keeps its text when it is not an IP, and reads a dual-stack IPv4 client as IPv4', () => {
  assert.deepEqual(clientAddress('::ffff:192.0.2.1'), { text: '192.0.2.1', ip: { family: 4, bytes: [192, 0, 2, 1] } });
  assert.deepEqual(clientAddress(undefined), { text: '', ip: null });
  assert.deepEqual(clientAddress('/run/x.sock'), { text: '/run/x.sock', ip: null });
});
