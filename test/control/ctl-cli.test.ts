// `netmon ctl` as a user runs it: which socket it picks, what it says when
// nothing answers, its exit codes, and the command list without a command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chooseSocket, DEFAULT_SOCKET, DEMO_SOCKET } from '../../daemon/control/socket/socket-path.js';
import { NETMON } from '../systemd/child-daemon.js';
import { startControlFixture } from './fixture.js';

function ctl(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(NETMON, ['ctl', ...args], { env: { ...process.env, ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

test('socket choice: --socket, else $NETMON_SOCKET, else the service socket if it exists, else the demo one', () => {
  const none = (): boolean => false;
  const all = (): boolean => true;
  assert.deepEqual(chooseSocket('/x.sock', { NETMON_SOCKET: '/y.sock' }, all), { path: '/x.sock', from: '--socket' });
  assert.deepEqual(chooseSocket(undefined, { NETMON_SOCKET: '/y.sock' }, all), {
    path: '/y.sock',
    from: '$NETMON_SOCKET',
  });
  assert.equal(chooseSocket(undefined, {}, all).path, DEFAULT_SOCKET);
  assert.equal(chooseSocket(undefined, {}, none).path, DEMO_SOCKET);
});

test('nothing answering: exit 2 and the error names the socket tried and why', async () => {
  const r = await ctl(['show', 'info'], { NETMON_SOCKET: '/nonexistent/netmon.sock' });
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /E_CONTROL_CONNECT: cannot connect to \/nonexistent\/netmon\.sock.*\(socket \/nonexistent\/netmon\.sock, from \$NETMON_SOCKET\)/,
  );
});

test('no command lists the commands; an unknown one exits 1 without connecting', async () => {
  const list = await ctl([]);
  assert.equal(list.code, 0);
  assert.match(list.stdout, /^ {2}show backends \[POOL\]/m);
  assert.match(list.stdout, /^ {2}reload /m);
  const bad = await ctl(['frobnicate'], { NETMON_SOCKET: '/nonexistent/netmon.sock' });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /E_UNKNOWN_COMMAND/);
});

test('text by default, --json prints the reply, error replies exit 1', async () => {
  const f = await startControlFixture();
  try {
    const text = await ctl(['show', 'backends', 'web'], { NETMON_SOCKET: f.sock });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^BACKEND\s+ADDRESS/);
    const json = await ctl(['--socket', f.sock, '--json', 'show', 'pools']);
    const reply = JSON.parse(json.stdout) as { ok: boolean; data: { name: string }[] };
    assert.equal(reply.ok, true);
    assert.equal(reply.data[0]!.name, 'web');
    const missing = await ctl(['--socket', f.sock, '--json', 'set', 'state', 'web/b9', 'drain']);
    assert.equal(missing.code, 1);
    assert.equal((JSON.parse(missing.stdout) as { error: { code: string } }).error.code, 'E_NOT_FOUND');
  } finally {
    await f.close();
  }
});
