// `netmon check-config FILE`: validate without starting anything. Exit 0 when the
// file is valid, 1 when it is not (every problem listed, one per line, on stderr).
import type { CommandModule } from 'yargs';

interface CheckArgs {
  file: string;
  json: boolean;
}

export const checkConfigCommand: CommandModule<object, CheckArgs> = {
  command: 'check-config <file>',
  describe: 'validate a config file without starting anything (exit 0 valid, 1 invalid)',
  builder: (y) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'TOML config file' })
      .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON' }),
  handler: async (argv) => {
    const { checkConfig } = await import('./check-config-run.js');
    process.exitCode = checkConfig(argv.file, argv.json);
  },
};
