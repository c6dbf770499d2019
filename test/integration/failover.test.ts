// Failover and recovery over real sockets: a backend killed under a steady stream
// of connections costs no client connection; it is marked down after `fall`
// probes, and after a restart takes traffic again after `rise`, ramping up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startNamedEcho, freePort, whoAnswers, waitFor } from '../helpers/servers.js';
import { startTestDaemon, simpleConfig } from '../helpers/daemon.js';

test('killed backend: no client fails, marked down after fall, back after rise with slow start', async () => {
  const b1 = await startNamedEcho('b1');
  let server2 = await startNamedEcho('b2');
  const b3 = await startNamedEcho('b3');
  const b2port = server2.port;
  const port = await freePort();
  const toml = simpleConfig({
    listenPort: port,
    algorithm: 'weighted_round_robin',
    health: '{ type = "tcp", interval = "200ms", timeout = "150ms", rise = 2, fall = 2 }',
    extraPool: 'slow_start = "3s"',
    backends: [b1, server2, b3].map((b) => ({ name: b.name, port: b.port, weight: 10 })),
  });
  const d = await startTestDaemon(toml);
  const failures: string[] = [];
  const answers: string[] = [];
  let running = true;
  const stream = (async () => {
    const end = Date.now() + 30_000;
    while (running && Date.now() < end) {
      try {
        answers.push(await whoAnswers(port, 3000));
      } catch (err) {
        failures.push(String(err));
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const b2state = (): { op: string; connections: number; errors: number; effectiveWeight: number } => {
    const s = d.daemon.snapshot().backends.find((x) => x.name === 'b2')!;
    const e = s.connectErrors;
    return {
      op: s.op,
      connections: s.connections,
      errors: e.refused + e.timeout + e.other,
      effectiveWeight: s.effectiveWeight,
    };
  };
  try {
    await waitFor(() => answers.includes('b2'), 5000, 'b2 serving');
    await server2.close();
    await waitFor(() => b2state().op === 'down', 5000, 'b2 marked down');
    const atDown = b2state();
    const answersAtDown = answers.length;
    await waitFor(() => answers.length > answersAtDown + 100, 10_000, '100 more connections');
    const later = b2state();
    assert.equal(
      later.connections + later.errors,
      atDown.connections + atDown.errors,
      'no new connection sent to a down backend',
    );
    assert.equal(failures.length, 0, `client failures: ${failures.slice(0, 3).join('; ')}`);

    server2 = await startNamedEcho('b2', b2port);
    await waitFor(() => b2state().op !== 'down', 5000, 'b2 back after rise');
    const ramp = b2state();
    assert.equal(ramp.op, 'starting');
    assert.ok(ramp.effectiveWeight < 10, `slow start begins below full weight: ${ramp.effectiveWeight}`);
    const before = answers.filter((a) => a === 'b2').length;
    await waitFor(() => answers.filter((a) => a === 'b2').length > before + 5, 10_000, 'b2 taking traffic again');
    await waitFor(() => b2state().op === 'up', 10_000, 'slow start complete');
    assert.equal(b2state().effectiveWeight, 10);
    assert.equal(failures.length, 0, `client failures: ${failures.slice(0, 3).join('; ')}`);
    const states = d.daemon
      .events(100)
      .filter((e) => e.type === 'state' && e.backend === 'web/b2')
      .map((e) => (e.type === 'state' ? e.to : ''));
    assert.deepEqual(states.slice(-3), ['down', 'starting', 'up']);
  } finally {
    running = false;
    await stream;
    await d.stop();
    await Promise.all([b1.close(), server2.close(), b3.close()]);
  }
});

test('drained backend keeps its connections but gets no new ones; ready brings it back', async () => {
  const b1 = await startNamedEcho('b1');
  const b2 = await startNamedEcho('b2');
  const port = await freePort();
  const d = await startTestDaemon(
    simpleConfig({ listenPort: port, backends: [b1, b2].map((b) => ({ name: b.name, port: b.port })) }),
  );
  const net = await import('node:net');
  try {
    // hold one connection to each backend
    const held = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<{ sock: import('node:net').Socket; who: string }>((resolve, reject) => {
            const c = net.connect({ host: '127.0.0.1', port });
            c.setEncoding('utf8');
            c.once('data', (x: string) => resolve({ sock: c, who: x.trim() }));
            c.on('error', reject);
          }),
      ),
    );
    const onB2 = held.find((h) => h.who === 'b2')!;
    d.daemon.setState('web/b2', 'drain');
    for (let i = 0; i < 20; i++) assert.equal(await whoAnswers(port), 'b1');
    // the existing connection to b2 still works
    const echoed = await new Promise<string>((resolve) => {
      onB2.sock.once('data', (x: string) => resolve(x));
      onB2.sock.write('still here\n');
    });
    assert.equal(echoed, 'still here\n');
    d.daemon.setState('web/b2', 'ready');
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add(await whoAnswers(port));
    assert.ok(seen.has('b2'));
    for (const h of held) h.sock.destroy();
  } finally {
    await d.stop();
    await Promise.all([b1.close(), b2.close()]);
  }
});

test('a crashed worker is restarted while the other keeps serving', async () => {
  const b1 = await startNamedEcho('b1');
  const port = await freePort();
  const d = await startTestDaemon(
    simpleConfig({ listenPort: port, workers: 2, backends: [{ name: 'b1', port: b1.port }] }),
  );
  try {
    assert.ok(await d.daemon.killWorker(0));
    // while worker 0 is down, connections still succeed (the kernel sends them to worker 1)
    for (let i = 0; i < 20; i++) assert.equal(await whoAnswers(port), 'b1');
    await waitFor(
      () => d.daemon.snapshot().workers[0]!.alive && d.daemon.snapshot().workers[0]!.starts >= 2,
      10_000,
      'worker 0 restarted',
    );
    const snap = d.daemon.snapshot();
    assert.equal(snap.backends[0]!.active, 0, 'slots of the dead worker were given back');
    assert.ok(d.daemon.events(50).some((e) => e.type === 'worker' && e.what === 'restarted'));
  } finally {
    await d.stop();
    await b1.close();
  }
});
