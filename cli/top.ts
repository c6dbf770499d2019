// `netmon top`: the live dashboard over the control socket. The dashboard is
// loaded only here, so other commands never pay for React and Ink.
import type { CommandModule } from 'yargs';

interface TopArgs {
  socket?: string;
  'read-only': boolean;
  charts: boolean;
  interval: number;
}

export const topCommand: CommandModule<object, TopArgs> = {
  command: 'top',
  describe: 'live terminal dashboard of a running daemon (over its control socket)',
  builder: (y) =>
    y
      .option('socket', {
        type: 'string',
        describe:
          'control socket path (default: $NETMON_SOCKET, else /run/netmon/netmon.sock if it exists, else /tmp/netmon.sock)',
      })
      .option('read-only', {
        type: 'boolean',
        default: false,
        describe: 'hide the actions (drain, maint, ready, weight, algorithm)',
      })
      .option('charts', {
        type: 'boolean',
        default: false,
        describe: 'full-screen charts (blessed-contrib) instead of the tables',
      })
      .option('interval', {
        type: 'number',
        default: 1000,
        describe: 'snapshot interval asked of the daemon, ms (min 100)',
      })
      .epilogue('Keys: ? in the dashboard lists them. docs/dashboard.md describes every view.'),
  handler: async (argv) => {
    // React's development build checks every render: several times the CPU for the same frames
    process.env.NODE_ENV ??= 'production';
    // CI variables describe a build, not this terminal: left set, Ink would hold every
    // frame until exit and colours would be off. The dashboard only runs on a TTY.
    if (process.stdout.isTTY) for (const key of ['CI', 'CONTINUOUS_INTEGRATION']) delete process.env[key];
    const { chooseSocket } = await import('../daemon/control/socket/socket-path.js');
    const { runTop } = await import('../tui/main.js');
    process.exitCode = await runTop({
      socket: chooseSocket(argv.socket).path,
      readOnly: argv['read-only'],
      charts: argv.charts,
      intervalMs: Math.max(100, Math.round(argv.interval)),
    });
  },
};
