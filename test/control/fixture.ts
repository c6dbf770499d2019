// A real daemon (worker threads, listeners, two echo backends) with its control
// socket on a temporary path, for the control socket tests.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startControlServer,
  type ControlServer,
  type ControlServerOptions,
} from '../../daemon/control/socket/server.js';
import { startTestDaemon, simpleConfig, type TestDaemon } from '../helpers/daemon.js';
import { freePort, startNamedEcho, type TestServer } from '../helpers/servers.js';

export interface ControlFixture {
  d: TestDaemon;
  control: ControlServer;
  sock: string;
  dir: string;
  port: number;
  backends: TestServer[];
  /** a second control server on the same daemon, with other limits */
  extraServer(opts: Partial<ControlServerOptions>): Promise<ControlServer>;
  close(): Promise<void>;
}

export async function startControlFixture(): Promise<ControlFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'netmon-ctl-'));
  const backends = [await startNamedEcho('b1'), await startNamedEcho('b2')];
  const port = await freePort();
  const d = await startTestDaemon(
    simpleConfig({ listenPort: port, backends: backends.map((b) => ({ name: b.name, port: b.port })) }),
  );
  // a parent directory that does not exist yet: the server creates it
  const sock = join(dir, 'run', 'netmon.sock');
  const control = await startControlServer({ path: sock, context: d.daemon });
  const extra: ControlServer[] = [];
  let n = 0;
  return {
    d,
    control,
    sock,
    dir,
    port,
    backends,
    extraServer: async (opts) => {
      const s = await startControlServer({ path: join(dir, `extra-${n++}.sock`), context: d.daemon, ...opts });
      extra.push(s);
      return s;
    },
    close: async () => {
      for (const s of extra) await s.close();
      await control.close();
      await d.stop();
      await Promise.all(backends.map((b) => b.close()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
