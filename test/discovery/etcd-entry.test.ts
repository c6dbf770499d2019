// An etcd entry is one backend: a JSON object with an IP address and optional
// weight, backup, max_connections and state; anything else is refused whole,
// with the reason. A fleet write changes only the fields it names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEntry, patchEntry } from '../../daemon/control/discovery/etcd-entry.js';

test('a full entry and a minimal one', () => {
  const full = parseEntry(
    'b1',
    '{"address":"[2001:db8::1]:8080","weight":10,"backup":true,"max_connections":5,"state":"drain"}',
  );
  assert.ok(full.ok);
  assert.deepEqual(full.found, {
    id: 'b1',
    ip: '2001:db8::1',
    port: 8080,
    weight: 10,
    backup: true,
    maxConnections: 5,
    admin: 'drain',
    host: '',
  });
  const min = parseEntry('b-2.x', '{"address":"10.0.0.1:80"}');
  assert.ok(min.ok);
  assert.equal(min.found.weight, 1);
  assert.equal(min.found.admin, null, 'no state: left to the operator');
});

test('what is refused, and why', () => {
  const cases: [string, string, RegExp][] = [
    ['b1', 'not json', /not JSON/],
    ['b1', '[1]', /JSON object/],
    ['b1', '{}', /"address" \("ip:port"\) is required/],
    ['b1', '{"address":"app.internal:80"}', /"address": "app.internal" is a name/],
    ['b1', '{"address":"10.0.0.1:0"}', /port 0/],
    ['b1', '{"address":"10.0.0.1:80","weight":0}', /"weight" must be an integer 1..256/],
    ['b1', '{"address":"10.0.0.1:80","weight":1.5}', /"weight"/],
    ['b1', '{"address":"10.0.0.1:80","backup":"yes"}', /"backup"/],
    ['b1', '{"address":"10.0.0.1:80","state":"down"}', /"state" must be one of ready, drain, maint/],
    ['b1', '{"address":"10.0.0.1:80","wieght":2}', /unknown field\(s\) "wieght"/],
    ['a/b', '{"address":"10.0.0.1:80"}', /the key after the prefix/],
    ['', '{"address":"10.0.0.1:80"}', /the key after the prefix/],
    // nested 10,000 deep: serialized for the reason, it overflowed the stack (a raw RangeError)
    ['b1', `{"address":"10.0.0.1:80","weight":${'['.repeat(10_000)}${']'.repeat(10_000)}}`, /got an array/],
    ['b1', `{"address":"10.0.0.1:80","state":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`, /got an object/],
  ];
  for (const [name, value, why] of cases) {
    const r = parseEntry(name, value);
    assert.ok(!r.ok, value);
    assert.match(r.reason, why, value);
    assert.ok(r.reason.startsWith(`${name}: `));
  }
});

test('a fleet write changes the fields it names and keeps the others as written', () => {
  const v = '{"address":"10.0.0.1:80","weight":3,"note":"kept"}';
  assert.deepEqual(JSON.parse(patchEntry(v, { state: 'maint' })), {
    address: '10.0.0.1:80',
    weight: 3,
    note: 'kept',
    state: 'maint',
  });
  assert.equal(JSON.parse(patchEntry(v, { weight: 9 })).weight, 9);
});
