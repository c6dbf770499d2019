// A real `bin/netmon daemon` process to stop (stop.test.ts, lame-duck.test.ts):
// one listener on a free port, one backend `b1` that greets with its name, a
// drain_timeout of the test's choosing; and how a test sees its listener close.
import net from 'node:net';
import { freePort, startNamedEcho, type TestServer } from '../helpers/servers.js';
import { childConfig, startChildDaemon, type ChildDaemon } from '../systemd/child-daemon.js';

/** Whether a connect to 127.0.0.1:`port` is refused (ECONNREFUSED: nothing listens). */
export function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port }, () => {
      c.destroy();
      resolve(false);
    });
    c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

export interface Stoppable {
  b1: TestServer;
  /** the listener's port */
  port: number;
  d: ChildDaemon;
}

/**
 * Start the daemon and its backend, run `body`, then end both whatever
 * happened. `drainTimeout`: the config's drain_timeout ("20s"); `top`: more
 * top-level config lines (announce_drain).
 */
export async function withStoppable(
  o: { drainTimeout: string; top?: string },
  body: (s: Stoppable) => Promise<void>,
): Promise<void> {
  const b1 = await startNamedEcho('b1');
  try {
    const port = await freePort();
    const d = await startChildDaemon(
      (sock) =>
        (o.top ?? '') +
        childConfig({
          sock,
          listenPort: port,
          drainTimeout: o.drainTimeout,
          backends: [{ name: 'b1', port: b1.port }],
        }),
    );
    try {
      await body({ b1, port, d });
    } finally {
      await d.cleanup();
    }
  } finally {
    await b1.close();
  }
}
