// Port 0 is one port: a listener bound to 127.0.0.1:0 with two workers is
// resolved once, every worker accepts on that one port, a restarted worker and
// every reload keep it, and show listeners, the snapshot and the metrics name it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { startNamedEcho, waitFor, whoAnswers } from '../helpers/servers.js';
import { startMetricsServer } from '../../daemon/control/metrics/server.js';
import { formatListeners } from '../../daemon/control/socket/format.js';
import type { ListenerSnapshot } from '../../daemon/control/snapshot/snapshot.js';
import { parsePromText, sampleValue } from '../metrics/prom-text.js';

function config(backend: number, weight: number, listeners = ['main']): string {
  const lines = ['workers = 2', '[metrics]', 'listen = "off"', '[log]', 'level = "warn"'];
  for (const name of listeners) lines.push('[[listener]]', `name = "${name}"`, 'bind = "127.0.0.1:0"', 'pool = "web"');
  lines.push(
    '[pool.web]',
    'health = { type = "none" }',
    '[[pool.web.backend]]',
    'name = "b1"',
    `address = "127.0.0.1:${backend}"`,
    `weight = ${weight}`,
  );
  return lines.join('\n') + '\n';
}

function listener(d: TestDaemon, name: string): ListenerSnapshot {
  return d.daemon.snapshot().listeners.find((l) => l.name === name)!;
}

function portOf(l: ListenerSnapshot): number {
  const m = /^127\.0\.0\.1:(\d+)$/.exec(l.bind);
  assert.ok(m, `bind ${l.bind} is not a concrete 127.0.0.1 address`);
  const port = Number(m[1]);
  assert.ok(port > 0, `bind ${l.bind}`);
  return port;
}

const accepted = (d: TestDaemon): number[] => d.daemon.snapshot().workers.map((w) => w.accepted);

/**
 * `count` connections to `port`, each answered by the backend; returns how
 * many each worker accepted. With SO_REUSEPORT the kernel spreads them by
 * 4-tuple hash: that a worker accepted none of 100 has odds of 2^-100.
 */
async function spread(d: TestDaemon, port: number, count: number): Promise<number[]> {
  const before = accepted(d);
  for (let i = 0; i < count; i++) assert.equal(await whoAnswers(port), 'b1');
  // the worker counts the accept before relaying: by the greeting, it is counted
  return accepted(d).map((n, i) => n - before[i]!);
}

test('a port-0 listener with two workers is one port: both workers accept there, through a restart and reloads', async () => {
  const b1 = await startNamedEcho('b1');
  const d = await startTestDaemon(config(b1.port, 1));
  const metrics = await startMetricsServer(d.daemon, { host: '127.0.0.1', port: 0, text: '127.0.0.1:0' });
  try {
    const main = listener(d, 'main');
    const port = portOf(main);
    assert.deepEqual([main.configuredBind, main.serving, main.error], ['127.0.0.1:0', `127.0.0.1:${port}`, null]);

    const first = await spread(d, port, 100);
    assert.equal(first[0]! + first[1]!, 100);
    assert.ok(
      first.every((n) => n > 0),
      `both workers accept on ${port}: ${first.join(', ')}`,
    );

    // as an operator and a scraper see it
    assert.match(
      formatListeners(d.daemon.snapshot().listeners),
      new RegExp(`^main\\s+127\\.0\\.0\\.1:${port}\\s`, 'm'),
    );
    const body = await (await fetch(`http://127.0.0.1:${metrics.address!.port}/metrics`)).text();
    const labels = {
      listener: 'main',
      bind: `127.0.0.1:${port}`,
      configured: '127.0.0.1:0',
      serving: `127.0.0.1:${port}`,
    };
    assert.equal(sampleValue(parsePromText(body), 'netmon_listener_info', labels), 1);

    // a worker that dies is restarted on the same port
    const starts = d.daemon.snapshot().workers[1]!.starts;
    assert.equal(await d.daemon.killWorker(1), true);
    await waitFor(() => d.daemon.snapshot().workers[1]!.starts > starts, 10_000, 'worker 1 restarted');
    let restarted = 0;
    // bounded: the restarted worker binds right after it starts; each round is 20 connections
    for (let round = 0; round < 20 && restarted === 0; round++) restarted = (await spread(d, port, 20))[1]!;
    assert.ok(restarted > 0, `the restarted worker accepts on ${port}`);

    // reloads: unchanged, then another item changed, then a second port-0 listener added
    assert.equal((await d.daemon.reload()).outcome, 'applied');
    d.setConfigText(config(b1.port, 2));
    assert.equal((await d.daemon.reload()).outcome, 'applied');
    d.setConfigText(config(b1.port, 2, ['main', 'extra']));
    const added = await d.daemon.reload();
    assert.equal(added.outcome, 'applied', added.errors.join('; '));
    assert.equal(portOf(listener(d, 'main')), port, 'reloads keep the port');
    const extra = portOf(listener(d, 'extra'));
    assert.notEqual(extra, port, 'another port-0 listener gets a port of its own');
    const after = await spread(d, port, 100);
    assert.ok(
      after.every((n) => n > 0),
      `both workers still accept on ${port}: ${after.join(', ')}`,
    );
    const onExtra = await spread(d, extra, 100);
    assert.ok(
      onExtra.every((n) => n > 0),
      `both workers accept on ${extra}: ${onExtra.join(', ')}`,
    );
  } finally {
    await metrics.close();
    await d.stop();
    await b1.close();
  }
});
