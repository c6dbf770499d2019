import type { CommandModule } from 'yargs';

export const topCommand: CommandModule = {
  command: 'top',
  describe: '(not implemented yet)',
  handler: () => {
    console.error('netmon top: not implemented yet');
    process.exitCode = 1;
  },
};
