// A real `netmon daemon` for the relay tests that read what it logs and
// counts: one listener per pool, its access lines (stdout, JSON) and its
// stats (`ctl show stats`), on the relay path asked for.
import type { TestContext } from 'node:test';
import type net from 'node:net';
import { startChildDaemon, type ChildDaemon } from '../systemd/child-daemon.js';
import { freePort, waitFor } from '../helpers/servers.js';
import type { BackendSnapshot, ListenerSnapshot } from '../../daemon/control/snapshot/snapshot.js';
import { assert, ending, type server, type RelayPath } from './harness.js';

export type Server = Awaited<ReturnType<typeof server>>;

/** A daemon with one listener per entry of `listeners` (name -> its pool's TOML keys and backends). */
export async function daemon(
  t: TestContext,
  path: RelayPath,
  listeners: Record<string, { keys?: string[]; pool: string[]; backends: { name: string; port: number }[] }>,
): Promise<{ d: ChildDaemon; ports: Record<string, number> }> {
  const ports: Record<string, number> = {};
  for (const name of Object.keys(listeners)) ports[name] = await freePort();
  const d = await startChildDaemon((sock) =>
    [
      'workers = 1',
      `[data]\nrelay = "${path}"`,
      '[metrics]\nlisten = "off"',
      `[control]\nsocket = ${JSON.stringify(sock)}`,
      '[log]\nlevel = "info"\naccess = true',
      ...Object.entries(listeners).flatMap(([name, l]) => [
        `[[listener]]\nname = "${name}"\nbind = "127.0.0.1:${ports[name]}"\npool = "${name}"`,
        ...(l.keys ?? []),
        `[pool.${name}]\nhealth = { type = "none" }\nalgorithm = "weighted_round_robin"`,
        ...l.pool,
        ...l.backends.flatMap((b, i) => [
          `[[pool.${name}.backend]]\nname = "${b.name}"\naddress = "127.0.0.1:${b.port}"\nweight = ${i === 0 ? 256 : 1}`,
        ]),
      ]),
      '',
    ].join('\n'),
  );
  t.after(() => d.cleanup());
  await waitFor(
    async () => {
      const s = (await d.ctl('show stats')) as { workers: { nativeRelay: boolean }[] };
      return s.workers.length > 0 && s.workers.every((w) => w.nativeRelay === (path === 'native'));
    },
    5000,
    `workers relaying with ${path}`,
  );
  // every listener on the native relay now: none is sent back to Node sockets
  assert.ok(!d.stdout.join('').includes('relays with Node sockets'));
  return { d, ports };
}

/** The daemon's access lines for `listener`. */
export function access(d: ChildDaemon, listener: string): Record<string, unknown>[] {
  return d.stdout
    .join('')
    .split('\n')
    .filter((l) => l.includes('"msg":"access"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l['listener'] === listener);
}

export async function stats(d: ChildDaemon): Promise<{ listeners: ListenerSnapshot[]; backends: BackendSnapshot[] }> {
  return (await d.ctl('show stats')) as { listeners: ListenerSnapshot[]; backends: BackendSnapshot[] };
}

/** Everything `s` receives until it closes, and how it ended (a FIN is answered with ours). */
export function collect(s: net.Socket): Promise<{ text: string; how: string }> {
  let text = '';
  s.on('data', (b: Buffer) => (text += b.toString('latin1')));
  return ending(s).then(async (how) => {
    if (!s.destroyed) {
      const closed = new Promise<void>((r) => s.once('close', () => r()));
      s.end();
      await closed;
    }
    return { text, how };
  });
}
