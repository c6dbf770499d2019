// `netmon announce --up CMD --down CMD`: runs CMD when the daemon's health
// changes, to announce or withdraw the virtual address of an ECMP fleet through
// the local BGP speaker (BIRD, FRR, ExaBGP). docs/fleet.md shows it with BIRD.
import type { CommandModule } from 'yargs';
import type { AnnounceArgs } from './announce-run.js';
import { DEFAULT_SOCKET, DEMO_SOCKET } from '../daemon/control/socket/socket-path.js';

export const announceCommand: CommandModule<object, AnnounceArgs> = {
  command: 'announce',
  describe:
    'run a command when the daemon turns healthy and another when it turns unhealthy or stops (BGP health hook)',
  builder: (y) =>
    y
      .option('up', {
        type: 'string',
        demandOption: true,
        describe: 'shell command run when healthy, e.g. "birdc enable netmon_vip"',
      })
      .option('down', {
        type: 'string',
        demandOption: true,
        describe: 'shell command run when unhealthy, unreachable, and when announce stops',
      })
      .option('socket', {
        type: 'string',
        describe: `control socket path (default: $NETMON_SOCKET, else ${DEFAULT_SOCKET} if it exists, else ${DEMO_SOCKET})`,
      })
      .option('interval', { type: 'string', default: '250ms', describe: 'how often to ask the daemon' })
      .option('timeout', {
        type: 'string',
        default: '2s',
        describe: 'an answer later than this counts as unhealthy (a hung daemon); a closed connection counts at once',
      })
      .option('repeat', {
        type: 'string',
        default: '30s',
        describe: 'run the current command again this often (a restarted BGP speaker forgets); "0s" = never',
      }) as unknown as import('yargs').Argv<AnnounceArgs>,
  handler: async (argv) => {
    const { runAnnounce } = await import('./announce-run.js');
    process.exitCode = await runAnnounce(argv);
  },
};
