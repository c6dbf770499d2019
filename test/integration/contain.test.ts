// One connection's bug never kills a worker: an exception on a connection's
// path (opening it, an event handler, a timer) resets that connection alone, is
// counted (netmon_internal_errors_total), and the worker goes on, while healthy
// long-lived streams on another listener see nothing. When a worker does die,
// the connections it held end with a reset, not a clean FIN. The faults are
// planted through a test hook (Daemon.injectFault) that the config and the
// control socket cannot reach; `accept` is the bug a `pool = ""` listener once
// hit on every connection. Every test runs on both relays (NETMON_TEST_RELAY
// narrows it): a natively relayed connection's fault is met in the handler of a
// relay event, as its bytes never reach JavaScript.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { Daemon } from '../../daemon/control/daemon.js';
import type { InjectedFault } from '../../daemon/data/plan.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { freePort, startNamedEcho, waitFor, type TestServer } from '../helpers/servers.js';
import { HeldConnection } from './reload-helpers.js';
import { RELAY_PATHS, type RelayPath } from '../relay/harness.js';

const STREAMS = 20;

interface Setup {
  b1: TestServer;
  good: number;
  bad: number;
  td: TestDaemon;
}

/** Two listeners on one pool: `good` carries the healthy streams, `bad` gets the fault. */
async function setup(workers: number, path: RelayPath): Promise<Setup> {
  const b1 = await startNamedEcho('b1');
  const good = await freePort();
  const bad = await freePort();
  const td = await startTestDaemon(
    [
      `workers = ${workers}`,
      '[data]',
      `relay = "${path}"`,
      '[metrics]',
      'listen = "off"',
      '[control]',
      `socket = "/tmp/netmon-test-${process.pid}-${good}.sock"`,
      '[log]',
      'level = "warn"',
      '[[listener]]',
      'name = "good"',
      `bind = "127.0.0.1:${good}"`,
      'pool = "web"',
      '[[listener]]',
      'name = "bad"',
      `bind = "127.0.0.1:${bad}"`,
      'pool = "web"',
      '[pool.web]',
      'timeouts = { connect = "1s", idle = "60s" }',
      '[[pool.web.backend]]',
      'name = "b1"',
      `address = "127.0.0.1:${b1.port}"`,
    ].join('\n') + '\n',
  );
  return { b1, good, bad, td };
}

/**
 * How one client connection ended: the bytes it got and its error code (null:
 * a clean end). It ends once served (`send` echoed, or the greeting), unless
 * it `holds`: then only the daemon (or the 5 s bound) ends it, so that a fault
 * due a moment after the accept (a timer's) meets a connection still open,
 * however fast its exchange would have been done.
 */
function oneClient(port: number, send: string | null, holds = false): Promise<{ text: string; code: string | null }> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let text = '';
    let code: string | null = null;
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      text += d;
      // served: the greeting (and the echo) arrived; nothing more to learn
      if (!holds && text.includes(send ?? '\n')) s.end();
    });
    s.on('connect', () => {
      if (send !== null) s.write(send);
    });
    s.on('error', (e: NodeJS.ErrnoException) => (code = e.code ?? e.message));
    s.on('close', () => resolve({ text, code }));
    s.setTimeout(5000, () => s.destroy(new Error('no end within 5 s')));
  });
}

function internalErrors(d: Daemon): number {
  return d.snapshot().workers.reduce((n, w) => n + w.internalErrors, 0);
}

async function faultOnOneListener(at: InjectedFault, path: RelayPath): Promise<void> {
  const { b1, good, bad, td } = await setup(2, path);
  const d = td.daemon;
  try {
    const streams = await Promise.all(Array.from({ length: STREAMS }, () => HeldConnection.open(good)));
    const starts = d.snapshot().workers.map((w) => w.starts);
    const send = at === 'accept' ? null : 'hello\n';
    const holds = at === 'timer';
    d.injectFault('bad', at);
    // the hook reaches the workers by message: the first faulted connection says it is armed
    await waitFor(async () => (await oneClient(bad, send, holds)).code === 'ECONNRESET', 15_000, 'the fault armed');
    const before = internalErrors(d);
    const faulted = await Promise.all(Array.from({ length: 10 }, () => oneClient(bad, send, holds)));
    for (const f of faulted) {
      assert.equal(f.code, 'ECONNRESET', `a faulted connection is reset (got ${JSON.stringify(f)})`);
      // opening it failed: no backend byte; the fault at the first client byte: that byte went nowhere
      if (at === 'accept') assert.equal(f.text, '');
      if (at === 'relay') assert.ok(!f.text.includes('hello'), 'the faulted byte was not relayed');
    }
    await waitFor(() => internalErrors(d) >= before + 10, 5000, 'ten internal errors counted');
    assert.equal(internalErrors(d), before + 10, 'one per faulted connection');
    // the healthy streams on the other listener saw nothing, and no worker was restarted
    for (const [i, s] of streams.entries()) await s.echo(`stream ${i} after the faults`);
    assert.ok(streams.every((s) => s.error === null && !s.isClosed()));
    const snap = d.snapshot();
    assert.deepEqual(
      snap.workers.map((w) => w.starts),
      starts,
      'no worker restarted',
    );
    assert.ok(snap.workers.every((w) => w.alive));
    // what the faulted connections held is given back: only the healthy streams remain
    await waitFor(
      () => d.snapshot().listeners.find((l) => l.name === 'bad')!.active === 0,
      5000,
      'the faulted listener holds nothing',
    );
    assert.equal(d.snapshot().listeners.find((l) => l.name === 'good')!.active, STREAMS);
    // disarmed, the listener serves again
    d.injectFault('bad', null);
    await waitFor(async () => (await oneClient(bad, null)).text === 'b1\n', 5000, 'the listener served again');
    for (const s of streams) s.end();
  } finally {
    await td.stop();
    await b1.close();
  }
}

for (const path of RELAY_PATHS) {
  test(`${path}: a bug while a connection is opened (a listener without its pool) resets it alone; the worker goes on`, () =>
    faultOnOneListener('accept', path));

  test(`${path}: an exception in a connection event handler resets that connection alone`, () =>
    faultOnOneListener('relay', path));

  test(`${path}: an exception in a connection timer resets that connection alone`, () =>
    faultOnOneListener('timer', path));

  test(`${path}: a worker that dies resets the connections it held; the other worker keeps its streams`, async () => {
    const { b1, good, td } = await setup(2, path);
    const d = td.daemon;
    try {
      const streams = await Promise.all(Array.from({ length: STREAMS }, () => HeldConnection.open(good)));
      const w0 = d.snapshot().workers[0]!;
      // SO_REUSEPORT spreads 20 connections over both workers (all on one: about 1 in 500,000)
      assert.ok(w0.active > 0 && w0.active < STREAMS, `worker 0 holds ${w0.active} of the streams`);
      assert.ok(await d.killWorker(0));
      const closed = (): HeldConnection[] => streams.filter((s) => s.isClosed());
      await waitFor(() => closed().length >= w0.active, 5000, "the dead worker's streams to end");
      const cut = closed();
      assert.equal(cut.length, w0.active, "exactly the dead worker's streams ended");
      for (const s of cut) {
        assert.equal(
          (s.error as NodeJS.ErrnoException | null)?.code,
          'ECONNRESET',
          'a cut stream sees a reset, not a FIN',
        );
      }
      for (const [i, s] of streams.entries()) if (!s.isClosed()) await s.echo(`stream ${i} on the live worker`);
      await waitFor(() => d.snapshot().workers[0]!.starts === 2, 10_000, 'worker 0 restarted');
      assert.equal(d.snapshot().workers[0]!.internalErrors, 1, 'the crash is counted');
      for (const s of streams) s.end();
    } finally {
      await td.stop();
      await b1.close();
    }
  });

  test(`${path}: after a worker died and was restarted, an immediate stop still resets what the new worker holds`, async () => {
    const { b1, good, td } = await setup(1, path);
    const d = td.daemon;
    let stopped = false;
    try {
      // the dying worker resets what it holds: each close it sees must not count as the drain of a stop
      const first = await Promise.all(Array.from({ length: 5 }, () => HeldConnection.open(good)));
      assert.ok(await d.killWorker(0));
      await Promise.all(first.map((s) => s.closed));
      // the one worker's listener is closed until the new thread opens it: the first served client says it is back
      await waitFor(async () => (await oneClient(good, null)).text === 'b1\n', 10_000, 'the restarted worker to serve');
      assert.equal(d.snapshot().workers[0]!.starts, 2);
      const streams = await Promise.all(Array.from({ length: 10 }, () => HeldConnection.open(good)));
      stopped = true;
      await td.stop();
      await Promise.all(streams.map((s) => s.closed));
      assert.deepEqual(
        streams.map((s) => (s.error as NodeJS.ErrnoException | null)?.code ?? 'clean end'),
        Array<string>(10).fill('ECONNRESET'),
      );
    } finally {
      if (!stopped) await td.stop();
      await b1.close();
    }
  });
}
