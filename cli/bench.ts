import type { CommandModule } from 'yargs';

export const benchCommand: CommandModule = {
  command: 'bench',
  describe: '(not implemented yet)',
  handler: () => {
    console.error('netmon bench: not implemented yet');
    process.exitCode = 1;
  },
};
