// `netmon announce`, the health hook of a BGP speaker: it runs the --up command
// when the daemon is healthy and --down when it is not, cannot be reached, or
// closes its control socket (a crash), retries a command that failed, and
// withdraws when it is stopped itself. Against a real daemon's control socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HealthAnnouncer } from '../../cli/announce-run.js';
import { startControlServer } from '../../daemon/control/socket/server.js';
import { startTestDaemon, simpleConfig } from '../helpers/daemon.js';
import { freePort, startNamedEcho, waitFor } from '../helpers/servers.js';
import { NETMON } from '../systemd/child-daemon.js';

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const b1 = await startNamedEcho('b1');
  const d = await startTestDaemon(
    simpleConfig({ listenPort: await freePort(), backends: [{ name: 'b1', port: b1.port }] }),
  );
  const dir = mkdtempSync(join(tmpdir(), 'netmon-announce-'));
  const sock = join(dir, 'netmon.sock');
  const control = await startControlServer({ path: sock, context: d.daemon });
  t.after(async () => {
    await control.close();
    await d.stop();
    await b1.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { d, sock, control, dir };
}

test('up while healthy, down while a listener is disabled, up again; a failed command is retried', async (t) => {
  const { d, sock } = await setup(t);
  const ran: string[] = [];
  let failNext = 0;
  const a = new HealthAnnouncer({
    socket: sock,
    up: 'UP',
    down: 'DOWN',
    intervalMs: 20,
    timeoutMs: 2000,
    repeatMs: 0,
    report: () => undefined,
    run: async (cmd) => {
      ran.push(cmd);
      return failNext-- > 0 ? 1 : 0;
    },
  });
  a.start();
  t.after(() => a.stop());
  await waitFor(() => a.announced === 'up', 5000, 'up');
  assert.deepEqual(ran, ['UP']);
  failNext = 2;
  d.daemon.setListenerEnabled('main', false);
  await waitFor(() => a.announced === 'down', 5000, 'down');
  assert.deepEqual(ran, ['UP', 'DOWN', 'DOWN', 'DOWN'], 'the failed withdrawal was run again until it worked');
  d.daemon.setListenerEnabled('main', true);
  await waitFor(() => a.announced === 'up', 5000, 'up again');
  // nothing more while nothing changes
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(ran, ['UP', 'DOWN', 'DOWN', 'DOWN', 'UP']);
  await a.stop();
  assert.equal(a.announced, 'down', 'stopping withdraws');
  assert.equal(ran.at(-1), 'DOWN');
});

test('a daemon that goes away is withdrawn at once, not at the next poll', async (t) => {
  const { sock, control } = await setup(t);
  const ran: { cmd: string; at: number }[] = [];
  const a = new HealthAnnouncer({
    socket: sock,
    up: 'UP',
    down: 'DOWN',
    // the next poll would be a minute away: only the closed connection can tell
    intervalMs: 60_000,
    timeoutMs: 2000,
    repeatMs: 0,
    report: () => undefined,
    run: async (cmd) => {
      ran.push({ cmd, at: Date.now() });
      return 0;
    },
  });
  a.start();
  t.after(() => a.stop());
  await waitFor(() => a.announced === 'up', 5000, 'up');
  const closedAt = Date.now();
  await control.close();
  await waitFor(() => a.announced === 'down', 5000, 'down');
  assert.ok(ran.at(-1)!.at - closedAt < 5000);
  assert.deepEqual(
    ran.map((r) => r.cmd),
    ['UP', 'DOWN'],
  );
});

test('the `netmon announce` command runs the shell commands and withdraws on SIGTERM', async (t) => {
  const { sock, dir } = await setup(t);
  const out = join(dir, 'route');
  const child = spawn(
    NETMON,
    ['announce', '--socket', sock, '--interval', '50ms', '--up', `echo up >> ${out}`, '--down', `echo down >> ${out}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const lines = (): string[] => {
    try {
      return readFileSync(out, 'utf8').trim().split('\n');
    } catch {
      return [];
    }
  };
  await waitFor(() => lines().length === 1, 10_000, 'the up command');
  assert.deepEqual(lines(), ['up']);
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.deepEqual(lines(), ['up', 'down']);
});
