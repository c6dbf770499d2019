import { test } from 'node:test';
import assert from 'node:assert/strict';
import { probeSendExpect, SEND_EXPECT_MAX_READ } from '../../daemon/control/health/probe-send-expect.js';
import type { SendExpectCheck } from '../../daemon/control/health/probe-types.js';
import { closedPort, resources, settledTo, tcpServer } from './net-helpers.js';

const check = (send: string, expect: string | RegExp, timeout = 1000): SendExpectCheck => ({
  type: 'send_expect',
  send,
  expect,
  interval: 1000,
  timeout,
  rise: 2,
  fall: 3,
});

/** A tiny Redis-like server: answers "+PONG\r\n" to "PING\r\n". */
function pingServer(received: Buffer[]) {
  return tcpServer((s) =>
    s.on('data', (d: Buffer) => {
      received.push(d);
      if (Buffer.concat(received).toString().includes('PING\r\n')) s.write('+PONG\r\n');
    }),
  );
}

test('send_expect writes the send bytes and succeeds on the expected reply', async () => {
  const received: Buffer[] = [];
  const srv = await pingServer(received);
  try {
    const before = resources();
    const r = await probeSendExpect({ host: '127.0.0.1', port: srv.port }, check('PING\r\n', '+PONG'));
    assert.equal(r.ok, true, r.detail);
    assert.equal(Buffer.concat(received).toString(), 'PING\r\n');
    assert.ok(await settledTo(before), 'a socket or timer was left open');
  } finally {
    await srv.close();
  }
});

test('send_expect finds an expect split across two reads', async () => {
  const srv = await tcpServer((s) => {
    s.write('+PO');
    setTimeout(() => s.write('NG\r\n'), 50);
  });
  try {
    const r = await probeSendExpect({ host: '127.0.0.1', port: srv.port }, check('', '+PONG'));
    assert.equal(r.ok, true, r.detail);
  } finally {
    await srv.close();
  }
});

test('send_expect matches a regular expression, also a /g one probed twice', async () => {
  const srv = await tcpServer((s) => s.write('220 mail.example ESMTP ready\r\n'));
  try {
    const target = { host: '127.0.0.1', port: srv.port };
    assert.equal((await probeSendExpect(target, check('', /^220 .*ready/))).ok, true);
    const g = /ESMTP/g;
    assert.equal((await probeSendExpect(target, check('', g))).ok, true);
    assert.equal((await probeSendExpect(target, check('', g))).ok, true, 'lastIndex must not carry over');
    const r = await probeSendExpect(target, check('', /^554/, 300));
    assert.equal(r.ok, false);
  } finally {
    await srv.close();
  }
});

test('send_expect fails when the backend answers something else and closes', async () => {
  const srv = await tcpServer((s) => s.on('data', () => s.end('-ERR unknown command\r\n')));
  try {
    const r = await probeSendExpect({ host: '127.0.0.1', port: srv.port }, check('PING\r\n', '+PONG'));
    assert.equal(r.ok, false);
    assert.match(r.detail, /closed before expect matched/);
    assert.match(r.detail, /-ERR unknown command/);
  } finally {
    await srv.close();
  }
});

test('send_expect times out when the wrong reply comes and the connection stays open', async () => {
  const srv = await tcpServer((s) => s.on('data', () => s.write('+PANG\r\n')));
  try {
    const before = resources();
    const r = await probeSendExpect({ host: '127.0.0.1', port: srv.port }, check('PING\r\n', '+PONG', 300));
    assert.equal(r.ok, false);
    assert.match(r.detail, /^timeout after 300 ms \(read\)$/);
    assert.ok(r.durationMs >= 250 && r.durationMs < 5000, `took ${r.durationMs}`);
    assert.ok(await settledTo(before), 'a socket or timer was left open');
  } finally {
    await srv.close();
  }
});

test('send_expect stops reading after its bound instead of buffering a stream', async () => {
  const srv = await tcpServer((s) => s.write(Buffer.alloc(SEND_EXPECT_MAX_READ * 4, 'x')));
  try {
    const r = await probeSendExpect({ host: '127.0.0.1', port: srv.port }, check('', 'OK', 10_000));
    assert.equal(r.ok, false);
    assert.match(r.detail, new RegExp(`not found in the first ${SEND_EXPECT_MAX_READ} bytes`));
    assert.ok(r.durationMs < 5000, 'fails on the bound, not on the timeout');
  } finally {
    await srv.close();
  }
});

test('send_expect fails on a refused connection', async () => {
  const r = await probeSendExpect({ host: '127.0.0.1', port: await closedPort() }, check('PING\r\n', '+PONG'));
  assert.equal(r.ok, false);
  assert.match(r.detail, /ECONNREFUSED/);
});
