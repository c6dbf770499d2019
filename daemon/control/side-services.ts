// The main thread's services around the daemon: control socket, metrics port,
// alerts. Started before the data plane so that a second daemon on the same
// control socket is refused before it binds any listener, and so that
// `netmon ctl` works as soon as listeners open. One start call per service;
// they are closed in reverse order.
import type { Daemon } from './daemon.js';
import { startControlServer } from './socket/server.js';
import { startMetricsServer } from './metrics/server.js';
import { startAlerts } from './alerts/service.js';

export interface SideServices {
  close(): Promise<void>;
}

interface Closable {
  close(): Promise<void>;
}

export async function startSideServices(daemon: Daemon): Promise<SideServices> {
  const started: Closable[] = [];
  const closeAll = async (): Promise<void> => {
    for (const s of started.splice(0).reverse()) await s.close().catch(() => undefined);
  };
  try {
    const control = await startControlServer({ path: daemon.currentConfig.control.socket, context: daemon });
    started.push(control);
    started.push(await startMetricsServer(daemon, daemon.currentConfig.metrics.listen, () => control.stats()));
    started.push(startAlerts(daemon));
  } catch (err) {
    await closeAll();
    throw err;
  }
  return { close: closeAll };
}
