// Address rules over real sockets: a range the loader accepts is the range the
// worker refuses; a spelling it cannot read stops check-config and the daemon
// with file, line and key path; a plan a worker cannot apply fails the start
// or the reload and leaves the listener closed, never open to everyone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNamedEcho, freePort } from '../helpers/servers.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { Daemon } from '../../daemon/control/daemon.js';
import { parseConfig } from '../../daemon/config/load.js';
import type { Config } from '../../daemon/config/schema.js';
import { edgeConfig } from './helpers.js';

const BIN = fileURLToPath(new URL('../../../bin/netmon', import.meta.url));

/** The backend's greeting, or null when netmon closes the connection first; from `localAddress`. */
function greeting(port: number, localAddress = '127.0.0.1'): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ host: '127.0.0.1', port, localAddress });
    let buf = '';
    const timer = setTimeout(() => {
      c.destroy();
      reject(new Error(`no answer and no close from 127.0.0.1:${port}`));
    }, 5000);
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      buf += d;
      if (buf.includes('\n')) {
        clearTimeout(timer);
        c.destroy();
        resolve(buf.slice(0, buf.indexOf('\n')));
      }
    });
    c.on('error', () => {});
    c.on('close', () => {
      clearTimeout(timer);
      resolve(null);
    });
  });
}

/** Whether anything accepts on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port }, () => {
      c.destroy();
      resolve(true);
    });
    c.on('error', () => resolve(false));
  });
}

function rejectedAcl(d: Daemon): number {
  return d.snapshot().listeners.find((l) => l.name === 'edge')!.rejected['acl'] ?? 0;
}

test('deny = ["127.0.0.0/8"] refuses a client from 127.0.0.1; a mapped /128 refuses only its address', async () => {
  const b = await startNamedEcho('b1');
  const port = await freePort();
  const cfg = (rule: string): string =>
    edgeConfig({
      port,
      pool: 'web',
      listener: [rule],
      pools: [{ name: 'web', backends: [{ name: 'b1', port: b.port }] }],
    });
  const d = await startTestDaemon(cfg('deny = ["127.0.0.0/8"]'));
  try {
    assert.equal(await greeting(port, '127.0.0.1'), null);
    assert.equal(await greeting(port, '127.0.0.2'), null);
    assert.equal(rejectedAcl(d.daemon), 2);
    assert.equal(b.accepted, 0, 'no refused client reached the backend');

    d.setConfigText(cfg('deny = ["::ffff:127.0.0.2/128"]'));
    assert.equal((await d.daemon.reload()).ok, true);
    assert.equal(await greeting(port, '127.0.0.1'), 'b1');
    assert.equal(await greeting(port, '127.0.0.2'), null, '::ffff:127.0.0.2/128 is 127.0.0.2/32');
    assert.equal(rejectedAcl(d.daemon), 3);
  } finally {
    await d.stop();
    await b.close();
  }
});

test('deny = ["127.0.0.0/08"] is refused by check-config and by the daemon, with file:line and key path', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'netmon-acl-'));
  const port = await freePort();
  try {
    const file = join(dir, 'netmon.toml');
    const text = edgeConfig({
      port,
      pool: 'web',
      listener: ['deny = ["10.0.0.0/8", "127.0.0.0/08"]'],
      pools: [{ name: 'web', backends: [{ name: 'b1', port: 5001 }] }],
    });
    writeFileSync(file, text);
    const line = text.split('\n').findIndex((l) => l.startsWith('deny')) + 1;
    const where = new RegExp(
      `^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${line}: listener\\[0\\]\\.deny\\[1\\]: .*"/08".*\\[E_CIDR\\]$`,
      'm',
    );

    const check = spawnSync(BIN, ['check-config', file], { encoding: 'utf8' });
    assert.equal(check.status, 1, check.stdout);
    assert.match(check.stderr, where);

    const daemon = spawn(BIN, ['daemon', '-c', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    daemon.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const code = await new Promise<number | null>((resolve) => daemon.on('exit', (c) => resolve(c)));
    assert.equal(code, 1);
    assert.match(stderr, where);
    assert.match(stderr, /refusing to start/);
    assert.equal(await listening(port), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A loaded config with one deny range replaced by a value no loader produces (host bits set). */
function unappliable(text: string): Config {
  const c = structuredClone(parseConfig(text, 'test.toml'));
  c.listeners[0]!.edge.deny = [{ family: 4, bytes: [127, 0, 0, 1], prefix: 8 }];
  return c;
}

test('a plan a worker cannot apply fails the start and the reload, and the listener is not served', async () => {
  const b = await startNamedEcho('b1');
  const port = await freePort();
  const text = edgeConfig({
    port,
    pool: 'web',
    listener: ['deny = ["10.0.0.0/8"]'],
    pools: [{ name: 'web', backends: [{ name: 'b1', port: b.port }] }],
  });
  try {
    const bad = new Daemon(unappliable(text), { configPath: null, load: () => unappliable(text) });
    await assert.rejects(bad.start(), /listener edge: cannot apply the plan: .*host bits/);
    assert.equal(await listening(port), false, 'a failed start leaves nothing listening');

    let next = (): Config => parseConfig(text, 'test.toml');
    const d = new Daemon(next(), { configPath: null, load: () => next() });
    await d.start();
    try {
      assert.equal(await greeting(port), 'b1');
      next = () => unappliable(text);
      const r = await d.reload();
      assert.equal(r.ok, false);
      assert.match(r.errors.join('\n'), /listener edge: cannot apply the plan/);
      assert.equal(await listening(port), false, 'fail closed: the listener is closed, not left open');
      assert.equal(b.accepted, 1);
    } finally {
      await d.stop(false);
    }
  } finally {
    await b.close();
  }
});
