// `netmon ctl`: one control-socket command, its reply printed as text (or JSON
// with --json). Exit 0 on success, 1 on an error reply, 2 when the daemon cannot
// be reached. The command list and usage come from the command table.
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';

import { DEFAULT_SOCKET, DEMO_SOCKET } from '../daemon/control/socket/socket-path.js';

interface CtlArgs {
  command?: Array<string | number>;
  socket?: string;
  json: boolean;
  timeout: string;
  fleet: boolean;
}

export const ctlCommand: CommandModule<object, CtlArgs> = {
  command: 'ctl [command..]',
  describe: 'send a command to the running daemon over its control socket (no command: list them)',
  builder: (y: Argv) =>
    y
      .positional('command', { type: 'string', array: true, describe: 'command words, e.g. show backends web' })
      .option('socket', {
        type: 'string',
        describe: `control socket path (default: $NETMON_SOCKET, else ${DEFAULT_SOCKET} if it exists, else ${DEMO_SOCKET})`,
      })
      .option('json', { type: 'boolean', default: false, describe: 'print the reply data as JSON' })
      .option('timeout', { type: 'string', default: '5s', describe: 'how long to wait for the reply' })
      .option('fleet', {
        type: 'boolean',
        default: false,
        describe:
          "set state / set weight: write the change to the backend's etcd entry, for every instance watching it",
      })
      .epilogue('Run `netmon ctl` without a command to list the commands (docs/control.md describes them).')
      .parserConfiguration({ 'parse-numbers': false, 'parse-positional-numbers': false }) as unknown as Argv<CtlArgs>,
  handler: async (argv: ArgumentsCamelCase<CtlArgs>) => {
    const { runCtl } = await import('../daemon/control/socket/ctl-main.js');
    process.exitCode = await runCtl({
      words: (argv.command ?? []).map(String),
      socket: argv.socket,
      json: argv.json,
      timeout: argv.timeout,
      fleet: argv.fleet,
    });
  },
};
