// `netmon ctl` as a user runs it: which socket it picks, what it says when
// nothing answers, its exit codes, the command list without a command, and
// what a reload reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chooseSocket, DEFAULT_SOCKET, DEMO_SOCKET } from '../../daemon/control/socket/socket-path.js';
import { NETMON } from '../systemd/child-daemon.js';
import { startControlFixture } from './fixture.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlServer } from '../../daemon/control/socket/server.js';
import { startTestDaemon, simpleConfig } from '../helpers/daemon.js';
import { freePort } from '../helpers/servers.js';

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

test('ctl reload names every changed key path, in text, JSON and the log line', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'netmon-ctl-'));
  const port = await freePort();
  const base = simpleConfig({ listenPort: port, backends: [{ name: 'b1', port: 1 }] });
  const listener = (line: string): string => base.replace('pool = "web"\n', `pool = "web"\n${line}\n`);
  // one change of each kind a reload applies without a summary line of the topology's own
  const cases: { what: string; text: string; keys: string[] }[] = [
    { what: 'timeouts', text: base.replace('idle = "30s"', 'idle = "40s"'), keys: ['pool.web.timeouts.idle'] },
    {
      what: 'health',
      text: base.replace('{ type = "none" }', '{ type = "tcp", interval = "3s", fall = 5 }'),
      // a check where there was none: its defaulted timeout and rise are settings that changed too
      keys: ['type', 'interval', 'timeout', 'rise', 'fall'].map((k) => `pool.web.health.${k}`),
    },
    { what: 'queue', text: base.replace('retries = 2', 'retries = 2\nqueue_size = 4'), keys: ['pool.web.queue_size'] },
    { what: 'listener limit', text: listener('max_connections = 7'), keys: ['listener.main.max_connections'] },
    {
      what: 'per-source limits',
      text: listener('source_limits = { rate = 5 }'),
      keys: ['listener.main.source_limits.rate', 'listener.main.source_limits.burst'],
    },
    {
      what: 'access rules',
      text: listener('allow = ["127.0.0.0/8"]\ndeny = ["10.0.0.0/8"]'),
      keys: ['listener.main.allow', 'listener.main.deny'],
    },
    {
      what: 'alerts',
      text: base.replace('[metrics]', '[alerts]\ninterval = "7s"\nspike_factor = 4\n[metrics]'),
      keys: ['alerts.interval', 'alerts.spike_factor'],
    },
  ];
  const d = await startTestDaemon(base);
  const sock = join(dir, 'netmon.sock');
  const control = await startControlServer({ path: sock, context: d.daemon });
  try {
    for (const c of cases) {
      // there: in text
      d.setConfigText(c.text);
      const text = await ctl(['--socket', sock, 'reload']);
      assert.equal(text.code, 0, text.stderr);
      const listed = text.stdout.split('\n').map((l) => l.trim());
      for (const k of c.keys) assert.ok(listed.includes(k), `${c.what}: ${k} not in\n${text.stdout}`);
      assert.doesNotMatch(text.stdout, /no changes/, c.what);
      // and back: in JSON
      d.setConfigText(base);
      const json = await ctl(['--socket', sock, '--json', 'reload']);
      const reply = JSON.parse(json.stdout) as { ok: boolean; data: { keys: string[]; changes: string[] } };
      assert.equal(reply.ok, true, json.stdout);
      assert.deepEqual([...reply.data.keys].sort(), [...c.keys].sort(), c.what);
    }
    const logged = d.logs.filter((l) => l['msg'] === 'config reloaded').map((l) => l['keys'] as string[]);
    assert.equal(logged.length, cases.length * 2);
    cases.forEach((c, i) => {
      assert.deepEqual([...logged[2 * i]!].sort(), [...c.keys].sort(), `${c.what}: the log line`);
      assert.deepEqual([...logged[2 * i + 1]!].sort(), [...c.keys].sort(), `${c.what} reverted: the log line`);
    });
    // nothing changed: said so, and no key listed
    const same = await ctl(['--socket', sock, 'reload']);
    assert.match(same.stdout, /^reload ok, generation \d+\n {2}no changes\n?$/);
  } finally {
    await control.close();
    await d.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
