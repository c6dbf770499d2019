// End to end: a real daemon (bin/netmon daemon) in front of three real
// backends, `netmon top` in a tmux pane, keys sent to it, and both the screen
// (capture-pane) and the daemon's state (`netmon ctl --json`) checked.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { freePort, startNamedEcho, waitFor, whoAnswers, type TestServer } from '../helpers/servers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const NETMON = join(ROOT, 'bin/netmon');

function haveTmux(): boolean {
  if (spawnSync('tmux', ['-V']).status === 0) return true;
  if (process.getuid?.() !== 0) return false;
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
  spawnSync('apt-get', ['install', '-y', '-qq', 'tmux'], {
    stdio: 'ignore',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return spawnSync('tmux', ['-V']).status === 0;
}

function config(socket: string, port: number, backends: TestServer[]): string {
  return [
    'workers = 2',
    'announce_drain = "2s"',
    `[control]\nsocket = "${socket}"`,
    '[metrics]\nlisten = "off"',
    '[log]\nlevel = "warn"',
    `[[listener]]\nname = "web"\nbind = "127.0.0.1:${port}"\npool = "web"`,
    '[pool.web]\nalgorithm = "round_robin"\nretries = 2',
    'timeouts = { connect = "1s", idle = "30s" }',
    'health = { type = "tcp", interval = "300ms", timeout = "250ms", rise = 1, fall = 1 }',
    ...backends.map((b) => `[[pool.web.backend]]\nname = "${b.name}"\naddress = "127.0.0.1:${b.port}"`),
  ].join('\n');
}

function ctlBackends(socket: string): Array<{ key: string; admin: string; op: string }> {
  const out = execFileSync(NETMON, ['ctl', '--socket', socket, '--json', 'show', 'backends'], { encoding: 'utf8' });
  const reply = JSON.parse(out) as { ok: boolean; data: Array<{ key: string; admin: string; op: string }> };
  assert.equal(reply.ok, true);
  return reply.data;
}

test('netmon top in tmux: shows the pool and the health, turns a dead backend red, drains one with d y, shows the lame duck of a stop', async (t) => {
  if (!haveTmux()) {
    t.skip('tmux is not installed and cannot be installed here (needs root and apt-get)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'netmon-top-e2e-'));
  const socket = join(dir, 'netmon.sock');
  const session = `netmon-top-e2e-${process.pid}`;
  // a tmux server of the test's own, started with CI set as on a CI runner: the
  // dashboard must still draw live there (Ink alone would hold frames until exit)
  const tmuxEnv = { ...process.env, CI: 'true' };
  const tmux = (...args: string[]): string =>
    execFileSync('tmux', ['-L', session, ...args], { encoding: 'utf8', env: tmuxEnv });
  const backends = [await startNamedEcho('b1'), await startNamedEcho('b2'), await startNamedEcho('b3')];
  const port = await freePort();
  const file = join(dir, 'netmon.toml');
  writeFileSync(file, config(socket, port, backends));
  let daemon: ChildProcess | undefined;
  const startDaemon = async (): Promise<ChildProcess> => {
    const d = spawn(NETMON, ['daemon', '-c', file], { stdio: ['ignore', 'ignore', 'inherit'] });
    await waitFor(
      () => d.exitCode === null && spawnSync(NETMON, ['ctl', '--socket', socket, 'show', 'info']).status === 0,
      15_000,
      'the daemon to answer on its control socket',
    );
    return d;
  };
  const screen = (escapes = false): string => tmux('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', session);
  const line = (text: string, escapes = false): string =>
    screen(escapes)
      .split('\n')
      .find((l) => l.includes(text)) ?? '';
  const until = async (cond: () => boolean, what: string, ms = 10_000): Promise<void> => {
    try {
      await waitFor(cond, ms, what);
    } catch (e) {
      throw new Error(`${(e as Error).message}\nscreen:\n${screen()}`);
    }
  };
  try {
    daemon = await startDaemon();
    tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '32', `${NETMON} top --socket ${socket}`);
    await until(() => /pool web\s+3\/3 up/.test(screen()), 'the overview with 3/3 up');
    assert.match(screen(), new RegExp(`netmon top ${socket}`), 'says whom it is attached to');
    await until(() => line('netmon top').includes(' healthy '), 'the health badge');

    // a backend dies: its row turns red and an alert fires
    await backends[1]!.close();
    await until(() => /^\s+b2\s+down/m.test(screen()), 'b2 shown down');
    assert.ok(line('  b2', true).includes('\u001b[31m'), `b2's row is red: ${JSON.stringify(line('  b2', true))}`);
    await until(() => /alerts [1-9]/.test(line('netmon top')), 'the alert badge');

    // drain b1 (the first backend, selected at start) from the dashboard
    tmux('send-keys', '-t', session, 'd');
    await until(() => screen().includes('Drain web/b1?'), 'the confirm dialog');
    tmux('send-keys', '-t', session, 'y');
    await until(() => screen().includes('< web/b1: admin state drain'), 'the reply in the log pane');
    await until(() => /^\s+b1\s+drain/m.test(screen()), 'b1 shown draining');
    const b1 = ctlBackends(socket).find((b) => b.key === 'web/b1');
    assert.equal(b1?.admin, 'drain');
    // drained and dead backends get no new connections: everything goes to b3
    for (let i = 0; i < 6; i++) assert.equal(await whoAnswers(port), 'b3');

    // the daemon restarts: the lame duck shows (announce_drain), then a banner,
    // then the dashboard is back by itself
    daemon.kill('SIGTERM');
    await until(() => line('netmon top').includes('LAME DUCK'), 'the lame duck badge');
    assert.match(screen(), /stopping: unhealthy for routing, still accepting; listeners close in \d\.\ds/);
    await until(() => screen().includes('DAEMON LOST'), 'the lost banner');
    await new Promise<void>((r) => (daemon!.exitCode !== null ? r() : daemon!.once('exit', () => r())));
    daemon = await startDaemon();
    await until(
      () => !screen().includes('DAEMON LOST') && /pool web\s+2\/3 up/.test(screen()),
      'the dashboard to reattach',
      15_000,
    );

    tmux('send-keys', '-t', session, 'q');
    await until(
      () => spawnSync('tmux', ['-L', session, 'has-session', '-t', session]).status !== 0,
      'top to quit on q',
    );
  } finally {
    spawnSync('tmux', ['-L', session, 'kill-server']);
    if (daemon && daemon.exitCode === null) {
      // a second signal skips the lame duck
      daemon.kill('SIGTERM');
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon!.once('exit', r));
    }
    for (const b of backends) await b.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});
