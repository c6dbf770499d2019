// `netmon` command line: one yargs command per module; each handler imports its
// module lazily so `netmon ctl` does not load the daemon or the dashboard.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { commands } from './commands.js';

const cli = yargs(hideBin(process.argv))
  .scriptName('netmon')
  .usage('$0 <command> [options]')
  .strict()
  .demandCommand(1, 'name a command; `netmon --help` lists them')
  .recommendCommands()
  .help()
  .alias('h', 'help')
  .version()
  .wrap(Math.min(110, process.stdout.columns || 100));

for (const c of commands) cli.command(c);

await cli.parseAsync();
