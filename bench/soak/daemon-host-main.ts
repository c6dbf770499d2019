// The daemon under soak: `netmon daemon -c FILE` as bin/netmon runs it (the
// same runDaemon, its signals and stop sequence; run with --expose-gc), in a
// process of its own whose memory and descriptors the soak reads, plus the one
// thing a real daemon does not offer: on an IPC message it crashes a worker
// (Daemon.killWorker, a test hook), as a bug outside any connection would.
import { runDaemon } from '../../daemon/main.js';
import { loadConfigFile } from '../../daemon/config/load.js';
import type { Daemon } from '../../daemon/control/daemon.js';

export type HostRequest = { type: 'crash-worker'; id: number };
export type HostReply = { type: 'started' } | { type: 'crashed'; ok: boolean };

const path = process.argv[2]!;
let daemon: Daemon | null = null;
process.on('message', (m: HostRequest) => {
  if (m.type !== 'crash-worker' || daemon === null) return;
  void daemon.killWorker(m.id).then((ok) => process.send?.({ type: 'crashed', ok } satisfies HostReply));
});
const code = await runDaemon({
  configPath: path,
  load: () => loadConfigFile(path),
  started: (d) => {
    daemon = d;
    process.send?.({ type: 'started' } satisfies HostReply);
  },
});
process.exit(code);
