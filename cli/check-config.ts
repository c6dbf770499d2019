// `netmon check-config FILE`: validate without starting anything. Exit 0 when the
// file is valid, 1 when it is not (every problem listed, one per line, on stderr).
// With --resolve, discovery sources are asked once too (docs/discovery.md).
import type { CommandModule } from 'yargs';

interface CheckArgs {
  file: string;
  json: boolean;
  resolve: boolean;
}

export const checkConfigCommand: CommandModule<object, CheckArgs> = {
  command: 'check-config <file>',
  describe: 'validate a config file without starting anything (exit 0 valid, 1 invalid)',
  builder: (y) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'TOML config file' })
      .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON' })
      .option('resolve', {
        type: 'boolean',
        default: false,
        describe:
          'also ask every discovery source (backend names, SRV names, etcd prefixes) once; exit 1 when one gives no backend',
      }),
  handler: async (argv) => {
    const { checkConfig } = await import('./check-config-run.js');
    process.exitCode = await checkConfig(argv.file, argv.json, argv.resolve);
  },
};
