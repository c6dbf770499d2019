import type { CommandModule } from 'yargs';

export const trafficCommand: CommandModule = {
  command: 'traffic',
  describe: '(not implemented yet)',
  handler: () => {
    console.error('netmon traffic: not implemented yet');
    process.exitCode = 1;
  },
};
