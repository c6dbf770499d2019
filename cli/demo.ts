import type { CommandModule } from 'yargs';

interface DemoArgs {
  'no-top': boolean;
  rate: number;
  minutes: number;
}

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: 'demo',
  describe: 'simulated backends + daemon (embedded default config) + light traffic + the dashboard',
  builder: (y) =>
    y
      .option('no-top', {
        type: 'boolean',
        default: false,
        describe: 'do not attach the dashboard (print status instead)',
      })
      .option('rate', { type: 'number', default: 40, describe: 'demo traffic, requests per second' })
      .option('minutes', { type: 'number', default: 30, describe: 'stop the demo traffic after this long' }),
  handler: async (argv) => {
    const { runDemo } = await import('./demo-run.js');
    process.exitCode = await runDemo({ top: !argv['no-top'], rate: argv.rate, minutes: argv.minutes });
  },
};
