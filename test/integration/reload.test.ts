// Reload under load, over real sockets: no established connection is cut,
// backends that survive keep their state and counters, removed ones drain, a
// broken config changes nothing, and run-time changes survive a reload unless
// the config itself changed the same item.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlServer } from '../../daemon/control/socket/server.js';
import type { BackendSnapshot } from '../../daemon/control/snapshot/snapshot.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { freePort, startNamedEcho, waitFor, whoAnswers, type TestServer } from '../helpers/servers.js';
import { NETMON } from '../systemd/child-daemon.js';
import { HeldConnection, shortConnections } from './reload-helpers.js';

interface ListenerSpec {
  name: string;
  port: number;
}
interface BackendSpec {
  name: string;
  port: number;
  weight: number;
}

function config(o: { listeners: ListenerSpec[]; backends: BackendSpec[]; algorithm?: string; extra?: string }): string {
  const lines = ['workers = 2', 'drain_timeout = "5s"', '[log]', 'level = "warn"'];
  for (const l of o.listeners)
    lines.push('[[listener]]', `name = "${l.name}"`, `bind = "127.0.0.1:${l.port}"`, 'pool = "web"');
  lines.push(
    '[pool.web]',
    `algorithm = "${o.algorithm ?? 'weighted_round_robin'}"`,
    'retries = 2',
    'timeouts = { connect = "1s", idle = "60s" }',
    'health = { type = "tcp", interval = "200ms", timeout = "150ms", rise = 2, fall = 2 }',
    o.extra ?? '',
  );
  for (const b of o.backends) {
    lines.push('[[pool.web.backend]]', `name = "${b.name}"`, `address = "127.0.0.1:${b.port}"`, `weight = ${b.weight}`);
  }
  return lines.join('\n') + '\n';
}

async function withDaemon(
  names: string[],
  body: (ctx: { servers: Map<string, TestServer>; port: number; d: TestDaemon; sock: string }) => Promise<void>,
  first: (servers: Map<string, TestServer>, port: number) => string,
): Promise<void> {
  const servers = new Map<string, TestServer>();
  for (const n of names) servers.set(n, await startNamedEcho(n));
  const port = await freePort();
  const d = await startTestDaemon(first(servers, port));
  const dir = mkdtempSync(join(tmpdir(), 'netmon-reload-'));
  const sock = join(dir, 'netmon.sock');
  const control = await startControlServer({ path: sock, context: d.daemon });
  try {
    await body({ servers, port, d, sock });
  } finally {
    await control.close();
    await d.stop();
    for (const s of servers.values()) await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function backend(d: TestDaemon, key: string): BackendSnapshot | undefined {
  return d.daemon.snapshot().backends.find((b) => b.key === key);
}

/** `netmon ctl` as a user runs it (a child process; the daemon answers from this process). */
function ctl(sock: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(NETMON, ['ctl', '--socket', sock, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

test('20 reloads under load adding/removing a backend and changing weights: no client connection fails', async () => {
  await withDaemon(
    ['b1', 'b2', 'b3'],
    async ({ servers, port, d }) => {
      const s = (n: string): TestServer => servers.get(n)!;
      const configA = config({
        listeners: [{ name: 'main', port }],
        backends: [
          { name: 'b1', port: s('b1').port, weight: 1 },
          { name: 'b2', port: s('b2').port, weight: 1 },
        ],
      });
      const configB = config({
        listeners: [{ name: 'main', port }],
        backends: [
          { name: 'b1', port: s('b1').port, weight: 3 },
          { name: 'b2', port: s('b2').port, weight: 1 },
          { name: 'b3', port: s('b3').port, weight: 2 },
        ],
      });
      await waitFor(() => backend(d, 'web/b1')?.check.result === 'ok', 5000, 'b1 probed');
      const held: HeldConnection[] = [];
      for (let i = 0; i < 12; i++) held.push(await HeldConnection.open(port));
      const load = shortConnections(port, 3);
      const heldFailures: string[] = [];
      let chatting = true;
      const chat = (async () => {
        for (let round = 0; chatting && round < 2000; round++) {
          for (const [i, c] of held.entries()) {
            try {
              await c.echo(`r${round}c${i}`);
            } catch (err) {
              heldFailures.push(String(err));
            }
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const b1Counts: number[] = [];
      const results: boolean[] = [];
      try {
        for (let i = 0; i < 20; i++) {
          d.setConfigText(i % 2 === 0 ? configB : configA);
          const r = await d.daemon.reload();
          results.push(r.ok);
          const b1 = backend(d, 'web/b1')!;
          b1Counts.push(b1.connections);
          assert.equal(b1.op, 'up', 'a surviving backend keeps its health state');
          assert.equal(b1.weight, i % 2 === 0 ? 3 : 1);
          // let traffic flow on this generation before the next one
          const before = d.daemon.snapshot().listeners[0]!.accepted;
          await waitFor(
            () => d.daemon.snapshot().listeners[0]!.accepted >= before + 5,
            5000,
            'traffic after the reload',
          );
        }
      } finally {
        chatting = false;
        await chat;
      }
      const r = await load.stop();
      assert.deepEqual(results, new Array<boolean>(20).fill(true));
      assert.equal(r.failures.length, 0, `short connections failed: ${r.failures.slice(0, 3).join('; ')}`);
      assert.ok(r.short > 100, `short connections made: ${r.short}`);
      assert.equal(heldFailures.length, 0, `long-lived connections failed: ${heldFailures.slice(0, 3).join('; ')}`);
      for (const c of held) {
        assert.equal(c.isClosed(), false, `long-lived connection to ${c.backend} still open`);
        await c.echo('last');
        c.end();
      }
      assert.ok(r.answers.get('b3')! > 0, 'the added backend took traffic');
      for (let i = 1; i < b1Counts.length; i++)
        assert.ok(b1Counts[i]! >= b1Counts[i - 1]!, 'counters of a surviving backend never reset');
      // the last config (A) has no b3: once its connections end, its slot is freed
      await waitFor(() => backend(d, 'web/b3') === undefined, 5000, 'removed b3 to drain and disappear');
    },
    (servers, port) =>
      config({
        listeners: [{ name: 'main', port }],
        backends: [
          { name: 'b1', port: servers.get('b1')!.port, weight: 1 },
          { name: 'b2', port: servers.get('b2')!.port, weight: 1 },
        ],
      }),
  );
});

test('a broken config is refused: the old one keeps serving and `netmon ctl show info` names the key', async () => {
  await withDaemon(
    ['b1', 'b2'],
    async ({ servers, port, d, sock }) => {
      const good = config({
        listeners: [{ name: 'main', port }],
        backends: [
          { name: 'b1', port: servers.get('b1')!.port, weight: 1 },
          { name: 'b2', port: servers.get('b2')!.port, weight: 1 },
        ],
      });
      const held = await HeldConnection.open(port);
      d.setConfigText(
        good.replace(
          /weight = 1\n\[\[pool\.web\.backend\]\]\nname = "b2"/,
          'weight = 900\n[[pool.web.backend]]\nname = "b2"',
        ),
      );
      const gen = d.daemon.topology.generation;
      const reload = await ctl(sock, 'reload');
      assert.equal(reload.code, 1, 'ctl reload exits non-zero when the config is refused');
      assert.match(reload.stderr, /E_RELOAD_FAILED/);
      assert.match(reload.stderr, /pool\.web\.backend\[0\]\.weight/);
      assert.equal(d.daemon.topology.generation, gen, 'the running config is unchanged');
      const info = await ctl(sock, 'show', 'info');
      assert.equal(info.code, 0);
      assert.match(info.stdout, /^Last reload:\s+FAILED/m);
      assert.match(info.stdout, /pool\.web\.backend\[0\]\.weight: .*\[E_WEIGHT_RANGE\]/);
      const json = await ctl(sock, '--json', 'show', 'info');
      const data = (JSON.parse(json.stdout) as { data: { lastReload: { ok: boolean; errors: string[] } } }).data;
      assert.equal(data.lastReload.ok, false);
      assert.match(data.lastReload.errors.join('\n'), /pool\.web\.backend\[0\]\.weight/);
      // still serving on the old config, and the open connection is untouched
      assert.match(await whoAnswers(port), /^b[12]$/);
      await held.echo('still here');
      held.end();
      // a syntax error is refused the same way
      d.setConfigText('workers = [');
      assert.equal((await d.daemon.reload()).ok, false);
      assert.match(await whoAnswers(port), /^b[12]$/);
    },
    (servers, port) =>
      config({
        listeners: [{ name: 'main', port }],
        backends: [
          { name: 'b1', port: servers.get('b1')!.port, weight: 1 },
          { name: 'b2', port: servers.get('b2')!.port, weight: 1 },
        ],
      }),
  );
});

test('run-time state, weight and algorithm survive a reload unless the config changed that item', async () => {
  await withDaemon(
    ['b1', 'b2'],
    async ({ servers, port, d, sock }) => {
      const make = (w2: number, algorithm: string): string =>
        config({
          listeners: [{ name: 'main', port }],
          algorithm,
          backends: [
            { name: 'b1', port: servers.get('b1')!.port, weight: 1 },
            { name: 'b2', port: servers.get('b2')!.port, weight: w2 },
          ],
        });
      assert.equal((await ctl(sock, 'set', 'weight', 'web/b1', '9')).code, 0);
      assert.equal((await ctl(sock, 'set', 'state', 'web/b1', 'drain')).code, 0);
      assert.equal((await ctl(sock, 'set', 'algorithm', 'web', 'least_connections')).code, 0);
      const pool = (): string => d.daemon.snapshot().pools[0]!.algorithm;

      // the config did not touch these items: the run-time values stay
      d.setConfigText(make(1, 'weighted_round_robin'));
      assert.equal((await d.daemon.reload()).ok, true);
      assert.equal(backend(d, 'web/b1')!.weight, 9);
      assert.equal(backend(d, 'web/b1')!.admin, 'drain');
      assert.equal(pool(), 'least_connections');

      // the config changed b2's weight and the algorithm: the config wins for those
      assert.equal((await ctl(sock, 'set', 'weight', 'web/b2', '5')).code, 0);
      d.setConfigText(make(2, 'round_robin'));
      assert.equal((await d.daemon.reload()).ok, true);
      assert.equal(backend(d, 'web/b2')!.weight, 2);
      assert.equal(pool(), 'round_robin');
      assert.equal(backend(d, 'web/b1')!.weight, 9, 'b1 untouched by the config keeps its run-time weight');
      assert.equal(backend(d, 'web/b1')!.admin, 'drain');
    },
    (servers, port) =>
      config({
        listeners: [{ name: 'main', port }],
        backends: [
          { name: 'b1', port: servers.get('b1')!.port, weight: 1 },
          { name: 'b2', port: servers.get('b2')!.port, weight: 1 },
        ],
      }),
  );
});

test('listeners: added ones open, a moved bind moves, removed ones stop accepting; open connections finish', async () => {
  const port2 = await freePort();
  const port3 = await freePort();
  await withDaemon(
    ['b1'],
    async ({ servers, port, d }) => {
      const b = [{ name: 'b1', port: servers.get('b1')!.port, weight: 1 }];
      const onMain = await HeldConnection.open(port);
      // add "extra" on port2
      d.setConfigText(
        config({
          listeners: [
            { name: 'main', port },
            { name: 'extra', port: port2 },
          ],
          backends: b,
        }),
      );
      let r = await d.daemon.reload();
      assert.equal(r.ok, true, r.errors.join('; '));
      assert.ok(r.changes.some((c) => c.startsWith('listener extra added')));
      assert.equal(await whoAnswers(port2), 'b1');
      const onExtra = await HeldConnection.open(port2);
      // move main to port3 and remove extra
      d.setConfigText(config({ listeners: [{ name: 'main', port: port3 }], backends: b }));
      r = await d.daemon.reload();
      assert.equal(r.ok, true, r.errors.join('; '));
      assert.equal(await whoAnswers(port3), 'b1');
      await assert.rejects(connectOnce(port), /ECONNREFUSED/, 'the old bind no longer accepts');
      await assert.rejects(connectOnce(port2), /ECONNREFUSED/, 'the removed listener no longer accepts');
      await onMain.echo('main survives the move');
      await onExtra.echo('extra survives its removal');
      onMain.end();
      onExtra.end();
    },
    (servers, port) =>
      config({
        listeners: [{ name: 'main', port }],
        backends: [{ name: 'b1', port: servers.get('b1')!.port, weight: 1 }],
      }),
  );
});

function connectOnce(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ host: '127.0.0.1', port }, () => {
      c.destroy();
      resolve();
    });
    c.on('error', reject);
  });
}
