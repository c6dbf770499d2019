import type { CommandModule } from 'yargs';

export const daemonCommand: CommandModule = {
  command: 'daemon',
  describe: '(not implemented yet)',
  handler: () => {
    console.error('netmon daemon: not implemented yet');
    process.exitCode = 1;
  },
};
