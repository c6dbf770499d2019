// Adaptive over real sockets: a pool with one backend slow to its first byte
// switches to least_response_time, logs the switch with its reason, and then
// sends most new connections to the fast backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startNamedEcho, freePort, whoAnswers, waitFor } from '../helpers/servers.js';
import { startTestDaemon, simpleConfig } from '../helpers/daemon.js';

test('adaptive switches a pool with a slow backend to least_response_time, with its reason', async () => {
  const fast = await startNamedEcho('fast');
  const slow = await startNamedEcho('slow', 0, { greetDelayMs: 80 });
  const port = await freePort();
  const d = await startTestDaemon(
    simpleConfig({
      listenPort: port,
      algorithm: 'adaptive',
      extraPool: 'adaptive = { window = "300ms", confirm = 2, min_dwell = "600ms" }',
      backends: [fast, slow].map((b) => ({ name: b.name, port: b.port })),
    }),
  );
  let running = true;
  const answers: string[] = [];
  const load = (async () => {
    const end = Date.now() + 20_000;
    while (running && Date.now() < end) {
      // a few connections at once, so load per backend is visible to the policy
      answers.push(...(await Promise.all([0, 1, 2].map(() => whoAnswers(port, 3000)))));
    }
  })();
  try {
    const pool = () => d.daemon.snapshot().pools.find((p) => p.name === 'web')!;
    assert.equal(pool().algorithm, 'adaptive');
    await waitFor(() => pool().activeAlgorithm === 'least_response_time', 15_000, 'switch to least_response_time');
    assert.ok(pool().adaptiveSwitches >= 1);
    const ev = d.daemon.events(200).find((e) => e.type === 'adaptive' && e.to === 'least_response_time');
    assert.ok(ev && ev.type === 'adaptive');
    assert.match(ev.reason, /latency spread x\d+(\.\d)?: slow is slowest, fast fastest/);
    assert.ok(d.logs.some((l) => l.msg === 'adaptive pool switched strategy' && l.to === 'least_response_time'));
    const from = answers.length;
    await waitFor(() => answers.length >= from + 60, 15_000, '60 more connections');
    const after = answers.slice(from);
    const onFast = after.filter((a) => a === 'fast').length;
    assert.ok(onFast / after.length > 0.7, `fast got ${onFast} of ${after.length} after the switch`);
  } finally {
    running = false;
    await load.catch(() => {});
    await d.stop();
    await Promise.all([fast.close(), slow.close()]);
  }
});
