// A listener that cannot be opened, over real sockets: at start netmon refuses
// to run (E_LISTEN, exit 1); on a reload the rest of the new config runs and
// the reload says it was applied in part, naming the listener (E_LISTEN), and
// the state shows where each listener is actually served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetmonError } from '../../daemon/errors.js';
import { startControlServer } from '../../daemon/control/socket/server.js';
import type { ListenerSnapshot } from '../../daemon/control/snapshot/snapshot.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { freePort, startNamedEcho, whoAnswers } from '../helpers/servers.js';
import { NETMON } from '../systemd/child-daemon.js';

/** A plain server holding a port (no SO_REUSEPORT: netmon's bind there fails with EADDRINUSE). */
async function occupy(): Promise<{ port: number; close(): Promise<void> }> {
  const s = net.createServer((c) => c.end('occupant\n'));
  await new Promise<void>((r) => s.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  return {
    port: (s.address() as net.AddressInfo).port,
    close: () => new Promise((r) => s.close(() => r())),
  };
}

function config(o: { listeners: { name: string; port: number }[]; backend: number; weight: number }): string {
  const lines = ['workers = 2', '[metrics]', 'listen = "off"', '[log]', 'level = "warn"'];
  for (const l of o.listeners) {
    lines.push('[[listener]]', `name = "${l.name}"`, `bind = "127.0.0.1:${l.port}"`, 'pool = "web"');
  }
  lines.push(
    '[pool.web]',
    'health = { type = "none" }',
    '[[pool.web.backend]]',
    'name = "b1"',
    `address = "127.0.0.1:${o.backend}"`,
    `weight = ${o.weight}`,
  );
  return lines.join('\n') + '\n';
}

function ctl(sock: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(NETMON, ['ctl', '--socket', sock, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

function listener(d: TestDaemon, name: string): ListenerSnapshot {
  return d.daemon.snapshot().listeners.find((l) => l.name === name)!;
}

test('a reload to a listener on a port in use is applied in part: E_LISTEN, the rest runs, the state says what serves', async () => {
  const b1 = await startNamedEcho('b1');
  const taken = await occupy();
  const port = await freePort();
  const d = await startTestDaemon(config({ listeners: [{ name: 'main', port }], backend: b1.port, weight: 1 }));
  const dir = mkdtempSync(join(tmpdir(), 'netmon-listen-'));
  const sock = join(dir, 'netmon.sock');
  const control = await startControlServer({ path: sock, context: d.daemon });
  try {
    // a new listener on the taken port, and a weight change in the same reload
    const both = [
      { name: 'main', port },
      { name: 'extra', port: taken.port },
    ];
    d.setConfigText(config({ listeners: both, backend: b1.port, weight: 3 }));
    const gen = d.daemon.topology.generation;
    const r = await d.daemon.reload();
    assert.equal(r.outcome, 'partial');
    assert.equal(r.ok, false);
    assert.equal(r.generation, gen + 1, 'the new config is the running one');
    assert.equal(r.errors.length, 1, r.errors.join('; '));
    assert.match(r.errors[0]!, /^listener extra: bind 127\.0\.0\.1:\d+: .*EADDRINUSE.* \[E_LISTEN\]; not serving$/);
    assert.ok(r.keys.includes('listener.extra') && r.keys.includes('pool.web.backend.b1.weight'), r.keys.join(' '));
    assert.equal(d.daemon.snapshot().backends.find((b) => b.key === 'web/b1')!.weight, 3, 'the rest was applied');
    assert.deepEqual(
      [listener(d, 'extra').serving, listener(d, 'main').serving],
      [null, `127.0.0.1:${port}`],
      'the state says what is served',
    );
    assert.match(listener(d, 'extra').error!, /EADDRINUSE.*\[E_LISTEN\]$/);
    assert.equal(await whoAnswers(taken.port), 'occupant');
    assert.equal(await whoAnswers(port), 'b1');
    const info = d.daemon.snapshot().info.lastReload!;
    assert.deepEqual([info.ok, info.outcome], [false, 'partial']);

    // the same, as an operator sees it
    const again = await ctl(sock, 'reload');
    assert.equal(again.code, 1, 'ctl reload exits non-zero when the config was applied in part');
    assert.match(again.stderr, /E_LISTEN/);
    assert.match(again.stderr, /applied in part/);
    assert.match((await ctl(sock, 'show', 'info')).stdout, /^Last reload:\s+PARTIAL/m);
    assert.match((await ctl(sock, 'show', 'listeners')).stdout, /^extra\s.*NOT SERVING/m);

    // once the port is free, a reload opens it
    await taken.close();
    const ok = await d.daemon.reload();
    assert.equal(ok.outcome, 'applied', ok.errors.join('; '));
    assert.equal(listener(d, 'extra').serving, `127.0.0.1:${taken.port}`);
    assert.equal(await whoAnswers(taken.port), 'b1');

    // a move onto a port in use keeps the old socket serving, and says so
    const other = await occupy();
    try {
      d.setConfigText(config({ listeners: [{ name: 'main', port: other.port }], backend: b1.port, weight: 3 }));
      const moved = await d.daemon.reload();
      assert.equal(moved.outcome, 'partial');
      assert.match(
        moved.errors[0]!,
        new RegExp(`^listener main: .*\\[E_LISTEN\\]; serving on 127\\.0\\.0\\.1:${port}$`),
      );
      assert.deepEqual(
        [listener(d, 'main').bind, listener(d, 'main').serving],
        [`127.0.0.1:${other.port}`, `127.0.0.1:${port}`],
      );
      assert.equal(await whoAnswers(port), 'b1', 'still served on its previous bind');
    } finally {
      await other.close();
    }
  } finally {
    await control.close();
    await d.stop();
    await b1.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a port in use at start is E_LISTEN: the daemon does not start', async () => {
  const b1 = await startNamedEcho('b1');
  const taken = await occupy();
  const dir = mkdtempSync(join(tmpdir(), 'netmon-listen-'));
  try {
    const toml = config({ listeners: [{ name: 'main', port: taken.port }], backend: b1.port, weight: 1 });
    await assert.rejects(
      startTestDaemon(toml),
      (err: unknown) =>
        err instanceof NetmonError &&
        err.code === 'E_LISTEN' &&
        /listener main: bind .*EADDRINUSE.*\[E_LISTEN\]/.test(err.message),
    );
    // as `netmon daemon` reports it
    const file = join(dir, 'netmon.toml');
    writeFileSync(file, toml + `[control]\nsocket = ${JSON.stringify(join(dir, 'netmon.sock'))}\n`);
    const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(NETMON, ['daemon', '-c', file], { timeout: 30_000 }, (err, _stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stderr });
      });
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /failed to start: error E_LISTEN: listener main: bind 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    assert.equal(await whoAnswers(taken.port), 'occupant');
  } finally {
    await taken.close();
    await b1.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
