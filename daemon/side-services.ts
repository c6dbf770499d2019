// The main thread's services around the daemon: control socket, metrics port,
// alerts. Started before the data plane so that `netmon ctl` works as soon as
// listeners open.
import type { Daemon } from './daemon.js';

export interface SideServices {
  close(): Promise<void>;
}

export async function startSideServices(_daemon: Daemon): Promise<SideServices> {
  return { close: async () => {} };
}
