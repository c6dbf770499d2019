import type { CommandModule } from 'yargs';

export const backendsCommand: CommandModule = {
  command: 'backends',
  describe: '(not implemented yet)',
  handler: () => {
    console.error('netmon backends: not implemented yet');
    process.exitCode = 1;
  },
};
