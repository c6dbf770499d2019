import { test } from 'node:test';
import assert from 'node:assert/strict';
import { probeTcp } from '../../daemon/control/health/probe-tcp.js';
import type { TcpCheck } from '../../daemon/control/health/probe-types.js';
import { closedPort, hangingPort, resources, settledTo, tcpServer } from './net-helpers.js';

const check = (timeout = 1000): TcpCheck => ({ type: 'tcp', interval: 1000, timeout, rise: 2, fall: 3 });

test('tcp probe succeeds when the backend accepts, and closes its socket', async () => {
  let accepted = 0;
  const srv = await tcpServer(() => accepted++);
  try {
    const before = resources();
    const r = await probeTcp({ host: '127.0.0.1', port: srv.port }, check());
    assert.equal(r.ok, true, r.detail);
    assert.equal(r.detail, 'connected');
    assert.ok(r.durationMs >= 0 && r.durationMs < 1000);
    assert.ok(await settledTo(before), 'a socket or timer was left open');
    assert.equal(accepted, 1);
  } finally {
    await srv.close();
  }
});

test('tcp probe fails with "connection refused" on a closed port', async () => {
  const port = await closedPort();
  const r = await probeTcp({ host: '127.0.0.1', port }, check());
  assert.equal(r.ok, false);
  assert.match(r.detail, /connection refused \(ECONNREFUSED\)/);
});

test('tcp probe times out on a connect that hangs, and leaves nothing behind', async () => {
  const hole = await hangingPort();
  try {
    const before = resources();
    const r = await probeTcp({ host: '127.0.0.1', port: hole.port }, check(300));
    assert.equal(r.ok, false);
    assert.match(r.detail, /^timeout after 300 ms \(connect\)$/);
    assert.ok(r.durationMs >= 250 && r.durationMs < 5000, `took ${r.durationMs} ms`);
    assert.ok(await settledTo(before), 'a socket or timer was left open');
  } finally {
    await hole.close();
  }
});

test('tcp probe stops at once when aborted', async () => {
  const hole = await hangingPort();
  try {
    const ac = new AbortController();
    const p = probeTcp({ host: '127.0.0.1', port: hole.port }, check(10_000), ac.signal);
    setImmediate(() => ac.abort());
    const r = await p;
    assert.equal(r.ok, false);
    assert.equal(r.detail, 'aborted');
    assert.ok(r.durationMs < 5000);
    const pre = new AbortController();
    pre.abort();
    assert.equal((await probeTcp({ host: '127.0.0.1', port: hole.port }, check(), pre.signal)).detail, 'aborted');
  } finally {
    await hole.close();
  }
});
