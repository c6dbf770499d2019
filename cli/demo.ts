import type { CommandModule } from 'yargs';

export const demoCommand: CommandModule = {
  command: 'demo',
  describe: '(not implemented yet)',
  handler: () => {
    console.error('netmon demo: not implemented yet');
    process.exitCode = 1;
  },
};
