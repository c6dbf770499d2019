import type { CommandModule } from 'yargs';

export const ctlCommand: CommandModule = {
  command: 'ctl',
  describe: '(not implemented yet)',
  handler: () => {
    console.error('netmon ctl: not implemented yet');
    process.exitCode = 1;
  },
};
