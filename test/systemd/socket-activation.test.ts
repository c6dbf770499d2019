// Socket activation: systemd-socket-activate binds the listener's socket and
// starts `bin/netmon daemon` on the first connection, passing the socket with
// LISTEN_FDS / LISTEN_FDNAMES; the daemon serves it (that first connection
// included) instead of binding. Malformed variables are refused clearly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { takeActivatedSockets } from '../../daemon/control/systemd/socket-activation.js';
import { NetmonError } from '../../daemon/errors.js';
import { request } from '../../daemon/control/socket/client.js';
import type { InfoSnapshot } from '../../daemon/control/snapshot/snapshot.js';
import { freePort, startNamedEcho, waitFor, whoAnswers } from '../helpers/servers.js';
import { childConfig, NETMON } from './child-daemon.js';

const isActivationError = (e: unknown): boolean => e instanceof NetmonError && e.code === 'E_SOCKET_ACTIVATION';

test('LISTEN_* variables: read for this process only, names must be listeners, then removed', () => {
  const always = (): boolean => true;
  const env: NodeJS.ProcessEnv = { LISTEN_PID: '42', LISTEN_FDS: '2', LISTEN_FDNAMES: 'web:admin' };
  assert.deepEqual(
    [...takeActivatedSockets(['web', 'admin'], env, 42, always)],
    [
      ['web', 3],
      ['admin', 4],
    ],
  );
  assert.deepEqual(env, {}, 'the variables are not passed on to children');
  assert.equal(
    takeActivatedSockets(['web'], { LISTEN_PID: '7', LISTEN_FDS: '1', LISTEN_FDNAMES: 'web' }, 42, always).size,
    0,
    'meant for another process',
  );
  assert.equal(takeActivatedSockets(['web'], {}, 42, always).size, 0);
  assert.throws(
    () => takeActivatedSockets(['web'], { LISTEN_PID: '42', LISTEN_FDS: 'x' }, 42, always),
    isActivationError,
  );
  assert.throws(
    () => takeActivatedSockets(['web'], { LISTEN_PID: '42', LISTEN_FDS: '1' }, 42, always),
    /FileDescriptorName/,
  );
  assert.throws(
    () => takeActivatedSockets(['web'], { LISTEN_PID: '42', LISTEN_FDS: '1', LISTEN_FDNAMES: 'api' }, 42, always),
    /matches no \[\[listener\]\]/,
  );
  assert.throws(
    () => takeActivatedSockets(['web'], { LISTEN_PID: '42', LISTEN_FDS: '1', LISTEN_FDNAMES: 'web' }, 42, () => false),
    /not a socket/,
  );
});

test('a socket passed by systemd-socket-activate is served, the first connection included', async (t) => {
  if (spawnSync('sh', ['-c', 'command -v systemd-socket-activate']).status !== 0) {
    t.skip('systemd-socket-activate (package systemd) is not installed');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'netmon-activate-'));
  const sock = join(dir, 'netmon.sock');
  const configPath = join(dir, 'netmon.toml');
  const b1 = await startNamedEcho('b1');
  const port = await freePort();
  // two workers: the passed socket must be served by exactly one of them
  writeFileSync(
    configPath,
    childConfig({ sock, listenPort: port, workers: 2, backends: [{ name: 'b1', port: b1.port }] }),
  );
  const child = spawn(
    'systemd-socket-activate',
    ['-l', `127.0.0.1:${port}`, '--fdname=main', NETMON, 'daemon', '-c', configPath],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const out: string[] = [];
  child.stdout.setEncoding('utf8').on('data', (d: string) => out.push(d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => out.push(d));
  const exited = new Promise<number | string>((r) => child.once('exit', (code, signal) => r(code ?? signal ?? -1)));
  try {
    await waitFor(() => out.join('').includes('Listening on'), 10_000, 'systemd-socket-activate to listen');
    // this connection starts the daemon and waits in the backlog meanwhile
    assert.equal(await whoAnswers(port, 15_000), 'b1');
    assert.match(out.join(''), /serving sockets passed by systemd/);
    for (let i = 0; i < 20; i++) assert.equal(await whoAnswers(port), 'b1');
    const info = (await request(sock, 'show-info')) as InfoSnapshot;
    assert.equal(info.workers, 2);
    // a reload keeps serving the passed socket
    const r = (await request(sock, 'reload', {}, { timeoutMs: 15_000 })) as { ok: boolean };
    assert.equal(r.ok, true);
    assert.equal(await whoAnswers(port), 'b1');
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    await b1.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
