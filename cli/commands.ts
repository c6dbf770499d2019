// The command table. Each entry is a yargs CommandModule in its own file; handlers
// import their implementation lazily so `netmon ctl` does not load the dashboard.
import type { CommandModule } from 'yargs';
import { daemonCommand } from './daemon.js';
import { checkConfigCommand } from './check-config.js';
import { ctlCommand } from './ctl.js';
import { topCommand } from './top.js';
import { backendsCommand } from './backends.js';
import { trafficCommand } from './traffic.js';
import { benchCommand } from './bench.js';
import { demoCommand } from './demo.js';
import { announceCommand } from './announce.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each command types its own argv
export const commands: CommandModule<any, any>[] = [
  daemonCommand,
  checkConfigCommand,
  ctlCommand,
  announceCommand,
  topCommand,
  backendsCommand,
  trafficCommand,
  benchCommand,
  demoCommand,
];
