// The control socket's path: a stale socket from a crashed daemon is replaced, a
// live daemon is never displaced (E_SOCKET_IN_USE, before any listener is bound),
// a path that is not a socket is never removed, and close removes only our file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlServer } from '../../daemon/control/socket/server.js';
import { NetmonError } from '../../daemon/errors.js';
import { parseConfig } from '../../daemon/config/load.js';
import { runDaemon } from '../../daemon/main.js';
import { FakeContext } from './fake-context.js';
import { textRequest } from './line-client.js';
import { freePort } from '../helpers/servers.js';
import { simpleConfig } from '../helpers/daemon.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'netmon-sock-'));
}

/** A socket file with nobody behind it: what a daemon killed with SIGKILL leaves. */
function staleSocket(path: string): void {
  const code = `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`;
  spawnSync(process.execPath, ['-e', code], { timeout: 10_000 });
  assert.ok(lstatSync(path).isSocket(), 'a stale socket file was left behind');
}

test('a stale socket file from a crashed daemon is replaced', async () => {
  const dir = tempDir();
  const path = join(dir, 'netmon.sock');
  try {
    staleSocket(path);
    const s = await startControlServer({ path, context: new FakeContext() });
    assert.match(await textRequest(path, 'show info'), /^Name:\s+netmon/m);
    await s.close();
    assert.equal(existsSync(path), false, 'close removes the socket file');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a live daemon on the path is refused with E_SOCKET_IN_USE and keeps answering', async () => {
  const dir = tempDir();
  const path = join(dir, 'netmon.sock');
  const first = await startControlServer({ path, context: new FakeContext() });
  try {
    await assert.rejects(
      startControlServer({ path, context: new FakeContext() }),
      (e: unknown) => e instanceof NetmonError && e.code === 'E_SOCKET_IN_USE',
    );
    assert.match(await textRequest(path, 'show info'), /^Name:\s+netmon/m);
  } finally {
    await first.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a path that is not a socket is refused (E_SOCKET_PATH) and left alone', async () => {
  const dir = tempDir();
  const path = join(dir, 'netmon.sock');
  writeFileSync(path, 'precious');
  try {
    await assert.rejects(
      startControlServer({ path, context: new FakeContext() }),
      (e: unknown) => e instanceof NetmonError && e.code === 'E_SOCKET_PATH',
    );
    assert.equal(readFileSync(path, 'utf8'), 'precious');
    const long = join(dir, 'x'.repeat(120));
    await assert.rejects(
      startControlServer({ path: long, context: new FakeContext() }),
      (e: unknown) => e instanceof NetmonError && e.code === 'E_SOCKET_PATH',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a second daemon on the same control socket exits 1 with E_SOCKET_IN_USE before binding its listener', async () => {
  const dir = tempDir();
  const path = join(dir, 'netmon.sock');
  const first = await startControlServer({ path, context: new FakeContext() });
  const port = await freePort();
  const toml = simpleConfig({ listenPort: port, backends: [{ name: 'b1', port: 1 }] }).replace(
    /socket = ".*"/,
    `socket = ${JSON.stringify(path)}`,
  );
  const stderr: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  let code: number;
  try {
    code = await runDaemon({ configPath: null, load: () => parseConfig(toml, 'second.toml') });
  } finally {
    process.stderr.write = write;
  }
  try {
    assert.equal(code, 1);
    assert.match(stderr.join(''), /E_SOCKET_IN_USE/);
    // its listener port was never bound
    await assert.rejects(
      new Promise<void>((resolve, reject) => {
        const c = net.connect({ host: '127.0.0.1', port }, () => {
          c.destroy();
          resolve();
        });
        c.on('error', reject);
      }),
      /ECONNREFUSED/,
    );
    assert.match(await textRequest(path, 'show info'), /^Name:\s+netmon/m);
  } finally {
    await first.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
