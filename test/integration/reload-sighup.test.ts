// A real SIGHUP to a real `bin/netmon daemon -c FILE` process: the file is
// re-read, a backend is added and a weight changed, and a connection opened
// before the reload keeps working.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BackendSnapshot, InfoSnapshot } from '../../daemon/control/snapshot/snapshot.js';
import { freePort, startNamedEcho, waitFor, whoAnswers } from '../helpers/servers.js';
import { childConfig, startChildDaemon } from '../systemd/child-daemon.js';
import { HeldConnection } from './reload-helpers.js';

test('SIGHUP re-reads the config file and applies it without cutting connections', async () => {
  const b1 = await startNamedEcho('b1');
  const b2 = await startNamedEcho('b2');
  const port = await freePort();
  const d = await startChildDaemon((sock) =>
    childConfig({ sock, listenPort: port, backends: [{ name: 'b1', port: b1.port }] }),
  );
  try {
    assert.equal(await whoAnswers(port), 'b1');
    const held = await HeldConnection.open(port);
    d.writeConfig(
      childConfig({
        sock: d.sock,
        listenPort: port,
        backends: [
          { name: 'b1', port: b1.port, weight: 4 },
          { name: 'b2', port: b2.port, weight: 2 },
        ],
      }),
    );
    d.child.kill('SIGHUP');
    await waitFor(
      async () => ((await d.ctl('show-info')) as InfoSnapshot).generation === 2,
      10_000,
      'generation 2 after SIGHUP',
    );
    const backends = (await d.ctl('show-backends')) as BackendSnapshot[];
    assert.deepEqual(
      backends.map((b) => [b.key, b.weight]),
      [
        ['web/b1', 4],
        ['web/b2', 2],
      ],
    );
    const info = (await d.ctl('show-info')) as InfoSnapshot;
    assert.equal(info.lastReload?.ok, true);
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) seen.add(await whoAnswers(port));
    assert.deepEqual([...seen].sort(), ['b1', 'b2']);
    await held.echo('survived SIGHUP');
    held.end();

    // an invalid file: SIGHUP keeps the running config and says why
    d.writeConfig('workers = "many"\n');
    d.child.kill('SIGHUP');
    await waitFor(
      async () => ((await d.ctl('show-info')) as InfoSnapshot).lastReload?.ok === false,
      10_000,
      'the failed reload reported',
    );
    const after = (await d.ctl('show-info')) as InfoSnapshot;
    assert.equal(after.generation, 2);
    assert.match(after.lastReload!.errors.join('\n'), /workers/);
    assert.match(await whoAnswers(port), /^b[12]$/);

    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0);
  } finally {
    await d.cleanup();
    await b1.close();
    await b2.close();
  }
});
