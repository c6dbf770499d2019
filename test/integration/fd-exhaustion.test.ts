// Running out of file descriptors is named, not blamed on backends. A daemon
// under `prlimit --nofile=256` (a real child process) is filled with held
// connections: it warns at start that the limit is below what max_connections
// needs, stops accepting before the limit (new clients are refused by the
// kernel, never accepted and closed), says so in the log, the metrics' figures
// and an fd_exhaustion alert, never counts its own EMFILE against a backend
// (no connect error, no passive ejection, health probes not failed), and
// accepts again once descriptors are free. A limit lowered while the daemon
// runs is seen before a burst uses it up: every client of the burst is served or
// refused (ECONNREFUSED, a reset), none accepted and closed with a clean FIN.
// Every client reset short of descriptors is counted as refused (fd_exhaustion)
// and said: those in a closed listening socket's accept queue in the pause
// warning, those netmon accepted and refused by their access lines. The first
// two tests run on both relays (NETMON_TEST_RELAY narrows it): the native
// relay's listeners are paused and reopened as Node's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import type {
  AlertSnapshot,
  InfoSnapshot,
  ListenerSnapshot,
  Snapshot,
} from '../../daemon/control/snapshot/snapshot.js';
import { freePort, startNamedEcho, waitFor } from '../helpers/servers.js';
import { startChildDaemon } from '../systemd/child-daemon.js';
import { HeldConnection } from './reload-helpers.js';
import { RELAY_PATHS } from '../relay/harness.js';

const LIMIT = 256;

type Stats = Pick<Snapshot, 'process' | 'workers' | 'backends'>;

/** How a connect attempt ends: served (the greeting), refused by the kernel, or anything else. */
function attempt(port: number): Promise<'served' | 'ECONNREFUSED' | string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      text += d;
      if (text.includes('\n')) s.destroy();
    });
    let code: string | null = null;
    s.on('error', (e: NodeJS.ErrnoException) => (code = e.code ?? e.message));
    s.on('close', () => resolve(text.includes('\n') ? 'served' : (code ?? `closed after ${JSON.stringify(text)}`)));
    s.setTimeout(5000, () => s.destroy(new Error('no answer within 5 s')));
  });
}

for (const path of RELAY_PATHS) {
  test(`${path}: out of file descriptors: accepting backs off, nothing is blamed on the backends, and it recovers`, async () => {
    const b1 = await startNamedEcho('b1');
    const b2 = await startNamedEcho('b2');
    const port = await freePort();
    const d = await startChildDaemon(
      (sock) =>
        [
          'workers = 2',
          'max_connections = 1000',
          '[data]',
          `relay = "${path}"`,
          '[metrics]',
          'listen = "off"',
          '[control]',
          `socket = ${JSON.stringify(sock)}`,
          '[alerts]',
          'interval = "200ms"',
          '[[listener]]',
          'name = "main"',
          `bind = "127.0.0.1:${port}"`,
          'pool = "web"',
          '[pool.web]',
          // one counted failure would eject a backend: none may be counted
          'passive = { consecutive_failures = 1 }',
          'health = { type = "tcp", interval = "200ms", timeout = "100ms", rise = 1, fall = 1 }',
          '[[pool.web.backend]]',
          'name = "b1"',
          `address = "127.0.0.1:${b1.port}"`,
          '[[pool.web.backend]]',
          'name = "b2"',
          `address = "127.0.0.1:${b2.port}"`,
        ].join('\n') + '\n',
      {},
      ['prlimit', `--nofile=${LIMIT}:${LIMIT}`, '--'],
    );
    const held: HeldConnection[] = [];
    try {
      assert.match(d.stdout.join(''), /file descriptor limit \(256\) is below the \d+ that max_connections needs/);
      const stats = async (): Promise<Stats> => (await d.ctl('show stats')) as Stats;

      // fill the daemon until a client is turned away
      let refusal = '';
      while (held.length < LIMIT) {
        try {
          held.push(await HeldConnection.open(port));
        } catch (err) {
          refusal = String(err);
          break;
        }
      }
      assert.ok(held.length > 50 && held.length < LIMIT / 2, `held ${held.length} before the first refusal`);
      await waitFor(async () => (await stats()).workers.every((w) => w.acceptPaused), 5000, 'both workers paused');
      // backed off: every new client is refused by the kernel, none accepted and closed
      const tries = await Promise.all(Array.from({ length: 20 }, () => attempt(port)));
      assert.deepEqual(tries, Array<string>(20).fill('ECONNREFUSED'), `first refusal: ${refusal}`);
      for (const [i, h] of held.entries()) await h.echo(`held ${i}`);

      const s = await stats();
      assert.equal(s.process.maxFds, LIMIT);
      assert.ok(s.process.openFds > 0 && s.process.openFds <= LIMIT, `open fds ${s.process.openFds}`);
      assert.ok(s.workers.reduce((n, w) => n + w.fdAcceptPauses, 0) >= 2);
      for (const b of s.backends) {
        assert.equal(b.op, 'up', `${b.key} is not blamed`);
        assert.deepEqual(b.connectErrors, { refused: 0, timeout: 0, other: 0 }, b.key);
        assert.equal(b.passiveFailures, 0, b.key);
      }
      let alert: AlertSnapshot | undefined;
      await waitFor(
        async () => {
          const alerts = (await d.ctl('show alerts')) as AlertSnapshot[];
          alert = alerts.find((a) => a.name === 'fd_exhaustion' && a.state === 'firing');
          return alert !== undefined;
        },
        5000,
        'the fd_exhaustion alert',
      );
      assert.match(alert!.message, new RegExp(`\\(\\d+ open of ${LIMIT}\\)`));
      assert.match(d.stdout.join(''), /out of file descriptors/);

      // descriptors free again: accepting resumes
      for (const h of held.splice(0)) h.destroy();
      await waitFor(async () => (await attempt(port)) === 'served', 10_000, 'the daemon to accept again');
      await waitFor(async () => (await stats()).workers.every((w) => !w.acceptPaused), 5000, 'no worker paused');
      const after = await stats();
      assert.ok(after.backends.every((b) => b.op === 'up' && b.passiveFailures === 0));
    } finally {
      for (const h of held) h.destroy();
      await d.cleanup();
      await Promise.all([b1.close(), b2.close()]);
    }
  });
}

/** A client that connects, sends a line and holds: served (the greeting came), or how it ended before. */
function connectSendHold(port: number, open: net.Socket[]): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write('hello\n'));
    open.push(s);
    let code: string | null = null;
    s.once('data', () => resolve('served'));
    // a reset that came before the write fails it with EPIPE: a reset all the same
    s.on('error', (e: NodeJS.ErrnoException) => (code = e.code === 'EPIPE' ? 'ECONNRESET' : (e.code ?? e.message)));
    s.on('end', () => (code ??= 'clean FIN'));
    s.on('close', () => resolve(code ?? 'closed'));
    s.setTimeout(10_000, () => s.destroy(new Error('no answer within 10 s')));
  });
}

for (const path of RELAY_PATHS) {
  test(`${path}: short of file descriptors, every client reset is counted (fd_exhaustion): the accept queues' and netmon's own refusals`, async (t) => {
    const b1 = await startNamedEcho('b1');
    const port = await freePort();
    const d = await startChildDaemon(
      (sock) =>
        [
          'workers = 2',
          'max_connections = 1000',
          '[data]',
          `relay = "${path}"`,
          '[metrics]',
          'listen = "off"',
          '[control]',
          `socket = ${JSON.stringify(sock)}`,
          '[log]',
          'access = true',
          '[[listener]]',
          'name = "main"',
          `bind = "127.0.0.1:${port}"`,
          'pool = "web"',
          '[pool.web]',
          'health = { type = "none" }',
          '[[pool.web.backend]]',
          'name = "b1"',
          `address = "127.0.0.1:${b1.port}"`,
        ].join('\n') + '\n',
      {},
      ['prlimit', `--nofile=${LIMIT}:${LIMIT}`, '--'],
    );
    const open: net.Socket[] = [];
    try {
      const outcomes = await Promise.all(Array.from({ length: 300 }, () => connectSendHold(port, open)));
      const tally: Record<string, number> = {};
      for (const o of outcomes) tally[o] = (tally[o] ?? 0) + 1;
      for (const o of Object.keys(tally))
        assert.ok(
          ['served', 'ECONNRESET', 'ECONNREFUSED'].includes(o),
          `no clean FIN, no hang: ${JSON.stringify(tally)}`,
        );
      const resets = tally['ECONNRESET'] ?? 0;
      assert.ok(resets > 0 && (tally['served'] ?? 0) > 0, `the limit was met: ${JSON.stringify(tally)}`);

      const listeners = (await d.ctl('show listeners')) as ListenerSnapshot[];
      const counted = listeners[0]!.rejected['fd_exhaustion'];
      assert.equal(counted, resets, `every client reset is counted under fd_exhaustion: ${JSON.stringify(tally)}`);

      // each is said: the accept queues' in the pause warnings, netmon's own refusals by an access line each
      type Line = Record<string, unknown>;
      const said = (): { queued: number; refusals: number; suppressed: number } => {
        const lines = d.stdout
          .join('')
          .split('\n')
          // the last piece is a line still on its way (or empty)
          .slice(0, -1)
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Line);
        let queued = 0;
        let refusals = 0;
        let suppressed = 0;
        for (const l of lines) {
          if (typeof l['accept_queue_reset'] === 'number') queued += l['accept_queue_reset'];
          if (l['msg'] === 'access' && l['reason'] === 'fd_exhaustion') {
            assert.equal(l['termination'], 'rejected');
            refusals++;
          }
          if (l['msg'] === 'access refusals suppressed')
            suppressed += (l['reasons'] as Record<string, number>)['fd_exhaustion'] ?? 0;
        }
        return { queued, refusals, suppressed };
      };
      // a worker writes its lines within 20 ms, a suppressed count within a second
      await waitFor(
        () => {
          const n = said();
          return n.queued + n.refusals + n.suppressed === resets;
        },
        5000,
        'a line for every reset',
      ).catch(() => undefined);
      const n = said();
      assert.equal(n.queued + n.refusals + n.suppressed, resets, JSON.stringify({ ...n, tally }));
      t.diagnostic(
        `clients ${JSON.stringify(tally)}; reset from accept queues ${n.queued}, refused by netmon ${n.refusals + n.suppressed}`,
      );
    } finally {
      for (const s of open) s.destroy();
      await d.cleanup();
      await b1.close();
    }
  });
}

/**
 * How a held client ends up: served (the backend's greeting, the socket kept
 * open), or closed before it, by `ECONNREFUSED`, `ECONNRESET`..., or `clean FIN`
 * (an end with no byte, which a client takes for a complete exchange).
 */
function hold(port: number, open: net.Socket[]): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    open.push(s);
    let code: string | null = null;
    s.once('data', () => resolve('served'));
    s.on('error', (e: NodeJS.ErrnoException) => (code = e.code ?? e.message));
    s.on('end', () => (code ??= 'clean FIN'));
    s.on('close', () => resolve(code ?? 'closed'));
    s.setTimeout(5000, () => s.destroy(new Error('no answer within 5 s')));
  });
}

test('a limit lowered while running is seen before it runs out: a burst right after gets served or refused, never a clean FIN', async () => {
  const b1 = await startNamedEcho('b1');
  const port = await freePort();
  const d = await startChildDaemon(
    (sock) =>
      [
        'workers = 2',
        '[metrics]',
        'listen = "off"',
        '[control]',
        `socket = ${JSON.stringify(sock)}`,
        '[[listener]]',
        'name = "main"',
        `bind = "127.0.0.1:${port}"`,
        'pool = "web"',
        'backlog = 1024',
        '[pool.web]',
        'health = { type = "none" }',
        '[[pool.web.backend]]',
        'name = "b1"',
        `address = "127.0.0.1:${b1.port}"`,
      ].join('\n') + '\n',
  );
  const open: net.Socket[] = [];
  try {
    const info = (await d.ctl('show info')) as InfoSnapshot;
    const before = (await d.ctl('show stats')) as Stats;
    // room for about 80 connections (two descriptors each) above what is open, 32 kept in reserve
    const limit = before.process.openFds + 200;
    const r = spawnSync('prlimit', ['--pid', String(info.pid), `--nofile=${limit}:`], { encoding: 'utf8' });
    assert.equal(r.status, 0, `prlimit: ${r.stderr}`);
    // at once, before any heartbeat of the workers: clients that send nothing, so a close would be a clean FIN
    const outcomes = await Promise.all(Array.from({ length: 250 }, () => hold(port, open)));
    const tally: Record<string, number> = {};
    for (const o of outcomes) tally[o] = (tally[o] ?? 0) + 1;
    const s = (await d.ctl('show stats')) as Stats;
    for (const o of Object.keys(tally))
      assert.ok(['served', 'ECONNREFUSED', 'ECONNRESET'].includes(o), JSON.stringify(tally));
    assert.ok((tally['served'] ?? 0) >= 20, `some were served: ${JSON.stringify(tally)}`);
    assert.ok((tally['served'] ?? 0) < 250, `the limit was met: ${JSON.stringify(tally)}`);
    assert.equal(
      s.workers.reduce((n, w) => n + w.fdConnectFailures, 0),
      0,
      `no backend connect met EMFILE: the workers stopped accepting first (${JSON.stringify(tally)})`,
    );
    assert.ok(
      s.workers.every((w) => w.acceptPaused),
      'both workers paused',
    );
    // the limit in force, which the fd_exhaustion alert quotes: the main thread may still hold the old one
    assert.deepEqual(
      s.workers.map((w) => w.fdLimit),
      s.workers.map(() => limit),
    );
  } finally {
    for (const s of open) s.destroy();
    await d.cleanup();
    await b1.close();
  }
});
