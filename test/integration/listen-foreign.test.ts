// A port netmon does not own is refused, not shared: another program listening
// with SO_REUSEPORT on the address (a second netmon, a small server) would get
// part of the traffic if netmon's workers joined it. At start netmon refuses
// to run (E_LISTEN naming the address); a reload adding such a listener is
// applied in part (E_LISTEN) and the other program keeps all its traffic. A
// listener renamed or moved within netmon's own sockets is not refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NetmonError } from '../../daemon/errors.js';
import { foreignHolder, type ForeignHolder } from '../helpers/foreign-holder.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { freePort, startNamedEcho, waitFor, whoAnswers } from '../helpers/servers.js';
import { childConfig, startChildDaemon } from '../systemd/child-daemon.js';

function config(listeners: { name: string; port: number }[], backend: number, workers = 2): string {
  const lines = [`workers = ${workers}`, '[metrics]', 'listen = "off"', '[log]', 'level = "warn"'];
  for (const l of listeners) {
    lines.push('[[listener]]', `name = "${l.name}"`, `bind = "127.0.0.1:${l.port}"`, 'pool = "web"');
  }
  lines.push('[pool.web]', 'health = { type = "none" }', '[[pool.web.backend]]', 'name = "b1"');
  lines.push(`address = "127.0.0.1:${backend}"`);
  return lines.join('\n') + '\n';
}

const serving = (d: TestDaemon, name: string): string | null | undefined =>
  d.daemon.snapshot().listeners.find((l) => l.name === name)?.serving;

/** `count` connections to `port`: who answered each. */
async function answers(port: number, count: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) seen.add(await whoAnswers(port));
  return seen;
}

test('start on an address another netmon holds with SO_REUSEPORT: E_LISTEN naming it, nothing shared', async () => {
  const b1 = await startNamedEcho('b1');
  const port = await freePort();
  const first = await startChildDaemon((sock) =>
    childConfig({ sock, listenPort: port, workers: 2, backends: [{ name: 'b1', port: b1.port }] }),
  );
  try {
    // a daemon that starts anyway is stopped, and fails the check below
    const started = startTestDaemon(config([{ name: 'main', port }], b1.port)).then(async (d) => {
      await d.stop();
      throw new Error('started on an address another netmon holds');
    });
    await assert.rejects(
      started,
      (err: unknown) =>
        err instanceof NetmonError &&
        err.code === 'E_LISTEN' &&
        new RegExp(
          `^listener main: bind 127\\.0\\.0\\.1:${port}: address in use by another program ` +
            `\\(EADDRINUSE; listening on 127\\.0\\.0\\.1:${port}\\): not shared \\[E_LISTEN\\]; not serving$`,
        ).test(err.message),
    );
    assert.deepEqual(await answers(port, 20), new Set(['b1']), 'the first netmon still serves');
  } finally {
    await first.cleanup();
    await b1.close();
  }
});

test('a reload adding a listener on an address another program holds with SO_REUSEPORT: partial, E_LISTEN', async () => {
  const b1 = await startNamedEcho('b1');
  const holder = await foreignHolder();
  const port = await freePort();
  const d = await startTestDaemon(config([{ name: 'main', port }], b1.port));
  try {
    d.setConfigText(
      config(
        [
          { name: 'main', port },
          { name: 'extra', port: holder.port },
        ],
        b1.port,
      ),
    );
    const r = await d.daemon.reload();
    assert.deepEqual([r.outcome, r.code], ['partial', 'E_LISTEN']);
    assert.equal(r.errors.length, 1, r.errors.join('; '));
    assert.match(
      r.errors[0]!,
      new RegExp(
        `^listener extra: bind 127\\.0\\.0\\.1:${holder.port}: address in use by another program .*\\[E_LISTEN\\]; not serving$`,
      ),
    );
    assert.equal(serving(d, 'extra'), null);
    assert.deepEqual(await answers(holder.port, 50), new Set(['foreign']), 'the other program keeps all its traffic');

    // a move onto it keeps the listener where it was
    d.setConfigText(config([{ name: 'main', port: holder.port }], b1.port));
    const moved = await d.daemon.reload();
    assert.equal(moved.outcome, 'partial');
    assert.match(
      moved.errors[0]!,
      new RegExp(`^listener main: .*another program.*; serving on 127\\.0\\.0\\.1:${port}$`),
    );
    assert.equal(serving(d, 'main'), `127.0.0.1:${port}`);
    assert.deepEqual(await answers(port, 10), new Set(['b1']));
    assert.deepEqual(await answers(holder.port, 20), new Set(['foreign']));
    const again = await d.daemon.reload();
    assert.equal(again.outcome, 'partial', 'the next reload checks the move again');
    assert.match(again.errors[0]!, /^listener main: .*another program/);
    assert.deepEqual(await answers(holder.port, 20), new Set(['foreign']));

    // netmon's own sockets are not another program: a rename on the same address is applied
    d.setConfigText(config([{ name: 'renamed', port }], b1.port));
    const renamed = await d.daemon.reload();
    assert.equal(renamed.outcome, 'applied', renamed.errors.join('; '));
    assert.equal(serving(d, 'renamed'), `127.0.0.1:${port}`);
    assert.deepEqual(await answers(port, 10), new Set(['b1']));

    // once the other program is gone, the address is netmon's
    await holder.close();
    d.setConfigText(
      config(
        [
          { name: 'renamed', port },
          { name: 'extra', port: holder.port },
        ],
        b1.port,
      ),
    );
    const ok = await d.daemon.reload();
    assert.equal(ok.outcome, 'applied', ok.errors.join('; '));
    assert.deepEqual(await answers(holder.port, 10), new Set(['b1']));
  } finally {
    await d.stop();
    await holder.close();
    await b1.close();
  }
});

test('a worker restarted when every worker of a listener died does not join another program on its port', async () => {
  const b1 = await startNamedEcho('b1');
  const port = await freePort();
  const d = await startTestDaemon(config([{ name: 'main', port }], b1.port, 1));
  let holder: ForeignHolder | null = null;
  try {
    assert.deepEqual(await answers(port, 5), new Set(['b1']));
    // another program joins the port's SO_REUSEPORT group while netmon serves it (the kernel allows it), then
    // netmon's only worker dies: in the restart backoff that program holds the port alone
    holder = await foreignHolder('127.0.0.1', port);
    const starts = d.daemon.snapshot().workers[0]!.starts;
    assert.equal(await d.daemon.killWorker(0), true);
    await waitFor(() => d.daemon.snapshot().workers[0]!.starts > starts, 10_000, 'worker 0 restarted');
    await waitFor(() => d.daemon.snapshot().workers[0]!.alive, 10_000, 'worker 0 alive');
    const main = d.daemon.snapshot().listeners.find((l) => l.name === 'main')!;
    assert.equal(main.serving, null, 'the listener is not reopened');
    assert.match(
      main.error ?? '',
      new RegExp(`^bind 127\\.0\\.0\\.1:${port}: address in use by another program .*not shared \\[E_LISTEN\\]`),
    );
    assert.deepEqual(await answers(port, 40), new Set(['foreign']), 'the other program keeps all its traffic');

    // once it is gone, the next reload checks the address again and opens it
    await holder.close();
    holder = null;
    const r = await d.daemon.reload();
    assert.equal(r.outcome, 'applied', r.errors.join('; '));
    assert.equal(serving(d, 'main'), `127.0.0.1:${port}`);
    assert.deepEqual(await answers(port, 10), new Set(['b1']));
  } finally {
    await holder?.close();
    await d.stop();
    await b1.close();
  }
});
