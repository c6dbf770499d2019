import type { CommandModule } from 'yargs';

interface DaemonArgs {
  config?: string;
}

export const daemonCommand: CommandModule<object, DaemonArgs> = {
  command: 'daemon',
  describe: 'run the load balancer (embedded default config when -c is omitted)',
  builder: (y) =>
    y.option('config', {
      alias: 'c',
      type: 'string',
      describe: 'TOML config file; re-read on SIGHUP and `netmon ctl reload`',
    }),
  handler: async (argv) => {
    const { runDaemon } = await import('../daemon/main.js');
    const { loadConfigFile, parseConfig } = await import('../daemon/config/load.js');
    const { DEFAULT_CONFIG_TOML } = await import('../daemon/config/default.js');
    const path = argv.config ?? null;
    const load = path ? () => loadConfigFile(path) : () => parseConfig(DEFAULT_CONFIG_TOML, '<embedded default>');
    process.exitCode = await runDaemon({ configPath: path, load });
    // worker threads and timers are gone by now; exit even if a library left a handle open
    setTimeout(() => process.exit(), 200).unref();
  },
};
