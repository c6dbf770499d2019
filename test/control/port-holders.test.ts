// Who else listens on an address, read from /proc/net/tcp{,6} over real
// sockets: another process's listener is found under every address that
// overlaps it (the same one, a wildcard of its family, [::] for both), never
// under one that does not; this process's own listeners are not "another".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { foreignHolder } from '../helpers/foreign-holder.js';
import { foreignListeners } from '../../daemon/control/topology/port-holders.js';

test('another process listening on 127.0.0.1 is found under 127.0.0.1, 0.0.0.0 and [::], not under ::1 or 127.0.0.2', async () => {
  const h = await foreignHolder('127.0.0.1');
  try {
    const it = [`127.0.0.1:${h.port}`];
    assert.deepEqual(foreignListeners('127.0.0.1', h.port), it);
    assert.deepEqual(foreignListeners('0.0.0.0', h.port), it);
    assert.deepEqual(foreignListeners('::', h.port), it);
    assert.deepEqual(foreignListeners('::ffff:127.0.0.1', h.port), it, 'an IPv4-mapped address is the IPv4 one');
    assert.deepEqual(foreignListeners('::1', h.port), []);
    assert.deepEqual(foreignListeners('127.0.0.2', h.port), []);
  } finally {
    await h.close();
  }
  assert.deepEqual(foreignListeners('127.0.0.1', h.port), [], 'gone with its process');
});

test('another process listening on [::1] is found under ::1 and [::], not under 0.0.0.0 or 127.0.0.1', async () => {
  const h = await foreignHolder('::1');
  try {
    assert.deepEqual(foreignListeners('::1', h.port), [`[::1]:${h.port}`]);
    assert.deepEqual(foreignListeners('::', h.port), [`[::1]:${h.port}`]);
    assert.deepEqual(foreignListeners('0.0.0.0', h.port), []);
    assert.deepEqual(foreignListeners('127.0.0.1', h.port), []);
  } finally {
    await h.close();
  }
});

test("this process's own listener is not another program's", async () => {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen({ host: '127.0.0.1', port: 0, reusePort: true }, () => r()));
  try {
    assert.deepEqual(foreignListeners('127.0.0.1', (s.address() as net.AddressInfo).port), []);
  } finally {
    await new Promise<void>((r) => s.close(() => r()));
  }
});
