// A passive ejection the pool's cap refuses is logged and counted per backend on
// the metrics port, not only logged: a real daemon, backends that refuse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deadPort, freePort, waitFor } from '../helpers/servers.js';
import { startTestDaemon, simpleConfig } from '../helpers/daemon.js';
import { startMetricsServer } from '../../daemon/control/metrics/server.js';
import { firstLine } from '../edge/helpers.js';
import { parsePromText, sampleValue } from './prom-text.js';

test('a passive ejection refused by max_ejected_share reaches netmon_backend_passive_ejections_refused_total', async (t) => {
  const [p1, p2] = [await deadPort(), await deadPort()];
  const port = await freePort();
  const d = await startTestDaemon(
    simpleConfig({
      listenPort: port,
      workers: 1,
      backends: [
        { name: 'b1', port: p1 },
        { name: 'b2', port: p2 },
      ],
      extraPool: 'passive = { consecutive_failures = 1, max_ejected_share = 0.5 }',
    }).replace('retries = 2', 'retries = 0'),
  );
  const metrics = await startMetricsServer(d.daemon, { host: '127.0.0.1', port: 0, text: '127.0.0.1:0' });
  t.after(async () => {
    await metrics.close();
    await d.stop();
  });
  const refused = async (backend: string): Promise<number | undefined> => {
    const body = await (await fetch(`http://127.0.0.1:${metrics.address!.port}/metrics`)).text();
    return sampleValue(parsePromText(body), 'netmon_backend_passive_ejections_refused_total', { pool: 'web', backend });
  };
  assert.equal(await refused('b1'), 0);
  assert.equal(await refused('b2'), 0);

  // every connect fails: the first backend reported is ejected (1 of 2 is the share), the other
  // stays in service, and each of its later reports is refused
  const down = (): string[] =>
    d.daemon
      .snapshot()
      .backends.filter((b) => b.op === 'down')
      .map((b) => b.name);
  for (let i = 0; i < 20 && down().length === 0; i++) assert.equal(await firstLine(port), null);
  await waitFor(() => down().length === 1, 5000, 'one backend ejected');
  const [ejected] = down();
  const kept = ejected === 'b1' ? 'b2' : 'b1';
  for (let i = 0; i < 3; i++) assert.equal(await firstLine(port), null);
  await waitFor(async () => ((await refused(kept)) ?? 0) >= 3, 5000, `3 refused ejections of ${kept}`);
  assert.equal(await refused(ejected!), 0);
  assert.deepEqual(down(), [ejected]);
  const capped = d.logs.filter((l) => l['msg'] === 'passive ejection capped');
  assert.equal(capped.length, await refused(kept), 'one warning per refused ejection');
  assert.equal(capped[0]!['backend'], `web/${kept}`);
});
