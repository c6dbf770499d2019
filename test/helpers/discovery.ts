// What the discovery tests (DNS against dnsmasq, etcd against a real etcd)
// share: a daemon serving one listener "main" on pool "web" whose backends a
// discovery source gives, started in the test process on a free port, and the
// wait for its next discovery event.
import type { TestContext } from 'node:test';
import type { DaemonEvent } from '../../daemon/control/snapshot/snapshot.js';
import { startTestDaemon, type TestDaemon } from './daemon.js';
import { own } from './own.js';
import { freePort } from './servers.js';

export type DiscoveryEvent = Extract<DaemonEvent, { type: 'discovery' }>;

/**
 * A config with two workers, listener "main" on 127.0.0.1:`port` and pool
 * "web" (connect timeout 1 s, no health checks): `top` are top-level lines,
 * `sections` the source's sections ([resolvers], [etcd]...), `pool` more lines
 * of [pool.web] (its backend tables last).
 */
export function discoveryConfig(o: { port: number; top?: string[]; sections: string[]; pool: string[] }): string {
  return [
    'workers = 2',
    ...(o.top ?? []),
    ...o.sections,
    '[[listener]]',
    'name = "main"',
    `bind = "127.0.0.1:${o.port}"`,
    'pool = "web"',
    '[pool.web]',
    'timeouts = { connect = "1s", idle = "30s" }',
    'health = { type = "none" }',
    ...o.pool,
  ].join('\n');
}

/** A daemon in this process on a free port, from `toml(port)`, stopped when the test ends. */
export async function startDiscoveryDaemon(
  t: TestContext,
  toml: (port: number) => string,
): Promise<{ d: TestDaemon; port: number }> {
  const port = await freePort();
  return { d: own(t, await startTestDaemon(toml(port))), port };
}

/** Resolves with the first discovery event that `match` accepts, from now on. */
export function nextDiscovery(
  d: TestDaemon,
  match: (e: DiscoveryEvent) => boolean,
  timeoutMs = 10_000,
): Promise<DiscoveryEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching discovery event in ${timeoutMs} ms`));
    }, timeoutMs);
    const off = d.daemon.onEvent((e) => {
      if (e.type !== 'discovery' || !match(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}
