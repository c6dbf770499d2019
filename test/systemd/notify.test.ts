// sd_notify as systemd sees it: a datagram socket stands in for $NOTIFY_SOCKET
// (python3 binds it, since Node has no AF_UNIX datagram sockets), and a real
// `bin/netmon daemon` child reports READY=1, RELOADING=1 / READY=1 around a
// reload (SIGHUP and `ctl reload`), STOPPING=1, STATUS= lines and MAINPID.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startNamedEcho, waitFor } from '../helpers/servers.js';
import { childConfig, startChildDaemon } from './child-daemon.js';

const LISTENER = [
  'import json, socket, sys',
  's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
  's.bind(sys.argv[1])',
  'print("bound", flush=True)',
  'while True:',
  '    print(json.dumps(s.recv(65536).decode()), flush=True)',
].join('\n');

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function hasPython(): boolean {
  return spawnSync('python3', ['-c', 'import socket; socket.AF_UNIX'], { timeout: 10_000 }).status === 0;
}

async function notifySequence(t: TestContext, relay: 'python3' | 'socat'): Promise<void> {
  if (!hasPython()) {
    t.skip('python3 is not installed: it is needed to bind the datagram socket that plays systemd');
    return;
  }
  const env: NodeJS.ProcessEnv = {};
  if (relay === 'socat') {
    const socat = which('socat');
    if (!socat) {
      t.skip('socat is not installed');
      return;
    }
    // a PATH with socat but no python3: the daemon must fall back to socat
    const bin = mkdtempSync(join(tmpdir(), 'netmon-path-'));
    for (const tool of ['dirname', 'readlink']) symlinkSync(which(tool)!, join(bin, tool));
    symlinkSync(socat, join(bin, 'socat'));
    env.PATH = bin;
    t.after(() => rmSync(bin, { recursive: true, force: true }));
  }
  const dir = mkdtempSync(join(tmpdir(), 'netmon-notify-'));
  const notifyPath = join(dir, 'notify.sock');
  const listener = spawn('python3', ['-c', LISTENER, notifyPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: string[] = [];
  let out = '';
  listener.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    let nl: number;
    while ((nl = out.indexOf('\n')) !== -1) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      if (line !== 'bound') messages.push(JSON.parse(line) as string);
      else messages.push('');
    }
  });
  const b1 = await startNamedEcho('b1');
  const port = await freePort();
  try {
    await waitFor(() => messages.includes(''), 10_000, 'the notify socket to be bound');
    messages.length = 0;
    const d = await startChildDaemon(
      (sock) => childConfig({ sock, listenPort: port, backends: [{ name: 'b1', port: b1.port }] }),
      {
        NOTIFY_SOCKET: notifyPath,
      },
    );
    try {
      const fields = (m: string): Map<string, string> =>
        new Map(m.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      await waitFor(() => messages.some((m) => fields(m).get('READY') === '1'), 10_000, 'READY=1');
      const ready = fields(messages.find((m) => fields(m).get('READY') === '1')!);
      assert.equal(ready.get('MAINPID'), String(d.child.pid), 'MAINPID names the daemon process');
      assert.match(ready.get('STATUS') ?? '', /serving 1 listener/);

      const kinds = (): string[] =>
        messages.map((m) => {
          const f = fields(m);
          return f.has('RELOADING')
            ? 'RELOADING'
            : f.has('READY')
              ? 'READY'
              : f.has('STOPPING')
                ? 'STOPPING'
                : 'STATUS';
        });
      d.child.kill('SIGHUP');
      await waitFor(() => kinds().length >= 3, 10_000, 'RELOADING=1 and READY=1 after SIGHUP');
      assert.deepEqual(kinds().slice(0, 3), ['READY', 'RELOADING', 'READY']);
      const reloading = fields(messages[1]!);
      assert.match(reloading.get('MONOTONIC_USEC') ?? '', /^\d+$/);
      assert.match(fields(messages[2]!).get('STATUS') ?? '', /reloaded, generation 2/);

      // `netmon ctl reload` (what ExecReload runs) goes through the same notifications
      await d.ctl('reload');
      await waitFor(() => kinds().length >= 5, 10_000, 'RELOADING=1 and READY=1 after ctl reload');
      assert.deepEqual(kinds().slice(3, 5), ['RELOADING', 'READY']);

      d.child.kill('SIGTERM');
      assert.equal(await d.exited, 0);
      await waitFor(() => kinds().includes('STOPPING'), 5000, 'STOPPING=1');
      assert.match(fields(messages[kinds().indexOf('STOPPING')]!).get('STATUS') ?? '', /stopping/);
    } finally {
      await d.cleanup();
    }
  } finally {
    listener.kill();
    await b1.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('READY, RELOADING/READY around reloads, STOPPING, STATUS and MAINPID reach $NOTIFY_SOCKET', (t) =>
  notifySequence(t, 'python3'));

test('without python3 the notify relay is socat, with the same messages', (t) => notifySequence(t, 'socat'));
