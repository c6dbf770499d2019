// `netmon ctl` against a daemon too busy to accept: a full accept queue on the
// control socket (EAGAIN on a Unix socket's connect) is tried again until the
// timeout, not reported as "cannot connect" at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { ControlClient } from '../../daemon/control/socket/client.js';

// A server in a worker thread whose event loop is blocked for `busyMs` after it
// starts listening (backlog 1): the kernel queues one connection, then refuses
// more with EAGAIN until the thread accepts again.
const SERVER = `
const net = require('node:net');
const { workerData, parentPort } = require('node:worker_threads');
const server = net.createServer((c) => c.end());
server.listen({ path: workerData.path, backlog: 1 }, () => {
  parentPort.postMessage('listening');
  parentPort.once('message', () => {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.busyMs);
    parentPort.postMessage('accepting');
  });
});
`;

test('a full accept queue on the control socket is retried until the daemon accepts', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netmon-ctl-'));
  const sock = path.join(dir, 'busy.sock');
  const worker = new Worker(SERVER, { eval: true, workerData: { path: sock, busyMs: 400 } });
  t.after(async () => {
    await worker.terminate();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await new Promise((r) => worker.once('message', r));
  worker.postMessage('block');
  // fill the queue until the kernel says EAGAIN (while the server's thread is blocked)
  const fillers: net.Socket[] = [];
  let eagain = false;
  for (let i = 0; i < 64 && !eagain; i++) {
    const s = net.createConnection({ path: sock });
    fillers.push(s);
    eagain = await new Promise<boolean>((r) => {
      s.once('connect', () => r(false));
      s.once('error', (e: NodeJS.ErrnoException) => r(e.code === 'EAGAIN'));
    });
  }
  assert.ok(eagain, 'the accept queue filled up');
  // before: rejected at once with E_CONTROL_CONNECT ("cannot connect ...: EAGAIN")
  const client = await ControlClient.connect(sock, { timeoutMs: 5000 });
  client.close();
  for (const s of fillers) s.destroy();
});

test('a control socket that stays full ends in E_CONTROL_TIMEOUT, not a connect error', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netmon-ctl-'));
  const sock = path.join(dir, 'busy.sock');
  const worker = new Worker(SERVER, { eval: true, workerData: { path: sock, busyMs: 3000 } });
  t.after(async () => {
    await worker.terminate();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await new Promise((r) => worker.once('message', r));
  worker.postMessage('block');
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 64; i++) {
    const s = net.createConnection({ path: sock });
    fillers.push(s);
    const full = await new Promise<boolean>((r) => {
      s.once('connect', () => r(false));
      s.once('error', (e: NodeJS.ErrnoException) => r(e.code === 'EAGAIN'));
    });
    if (full) break;
  }
  await assert.rejects(ControlClient.connect(sock, { timeoutMs: 300 }), { code: 'E_CONTROL_TIMEOUT' });
  for (const s of fillers) s.destroy();
});
