import type { CommandModule } from 'yargs';

export const checkConfigCommand: CommandModule = {
  command: 'check-config',
  describe: '(not implemented yet)',
  handler: () => {
    console.error('netmon check-config: not implemented yet');
    process.exitCode = 1;
  },
};
