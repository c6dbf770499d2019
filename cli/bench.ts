import type { CommandModule } from 'yargs';

interface Args {
  quick: boolean;
  only: string;
  runs?: number;
  duration?: number;
  'idle-connections'?: number;
  install: boolean;
  profile: string;
  out?: string;
  proxies?: string;
  workloads?: string;
  render?: string;
}

export const benchCommand: CommandModule<object, Args> = {
  command: 'bench',
  describe: 'benchmark netmon side by side with HAProxy, nginx and Node proxies; compare balancing algorithms',
  builder: (y) =>
    y
      .option('quick', { type: 'boolean', default: false, describe: 'fewer, shorter runs (2 x 3 s) for trying it' })
      .option('only', {
        choices: ['all', 'proxies', 'algorithms', 'discovery', 'profile'],
        default: 'all',
        describe: 'which part to run (profile: only a CPU profile of netmon)',
      })
      .option('runs', { type: 'number', describe: 'runs per workload and proxy (default 3, quick 2)' })
      .option('duration', { type: 'number', describe: 'seconds per run (default 6, quick 3)' })
      .option('idle-connections', {
        type: 'number',
        describe: 'idle workload size (default 10000, capped by ulimit -n)',
      })
      .option('install', {
        type: 'boolean',
        default: true,
        describe: 'apt-get install haproxy nginx wrk iperf3 when missing (as root)',
      })
      .option('profile', {
        choices: ['auto', 'always', 'never'],
        default: 'auto',
        describe: 'CPU-profile netmon when a target is missed',
      })
      .option('out', { type: 'string', describe: 'results directory (default bench/results/)' })
      .option('render', {
        type: 'string',
        describe: "write the proxy comparison's tables and chart again from its JSON (runs nothing)",
      })
      .option('proxies', {
        type: 'string',
        describe:
          'comma-separated proxies to compare (default all: direct,netmon,netmon-js,haproxy,nginx,node-tcp-proxy,node-pipe; also node-onread, a Node proxy reading with onread)',
      })
      .option('workloads', {
        type: 'string',
        describe:
          'comma-separated workloads (default all: keepalive-wrk,keepalive-autocannon,new-connection,bulk-1,bulk-4,paced,idle)',
      })
      .example('$0 bench --quick', 'a short run of everything')
      .example('$0 bench --only algorithms', 'the algorithm comparison alone'),
  handler: async (a) => {
    const { runBench } = await import('../bench/run-bench.js');
    const bounded = (v: number | undefined, what: string, max: number): number | undefined => {
      if (v !== undefined && (!Number.isFinite(v) || v < 1 || v > max))
        throw new Error(`--${what}: must be 1..${max}, got ${v}`);
      return v;
    };
    try {
      const runs = bounded(a.runs, 'runs', 50);
      const durationS = bounded(a.duration, 'duration', 300);
      const idleConnections = bounded(a['idle-connections'], 'idle-connections', 100_000);
      process.exitCode = await runBench({
        quick: a.quick,
        only: a.only as 'all',
        install: a.install,
        profile: a.profile as 'auto',
        ...(runs !== undefined ? { runs } : {}),
        ...(durationS !== undefined ? { durationS } : {}),
        ...(idleConnections !== undefined ? { idleConnections } : {}),
        ...(a.out !== undefined ? { outDir: a.out } : {}),
        ...(a.proxies !== undefined ? { proxies: a.proxies.split(',').filter(Boolean) } : {}),
        ...(a.workloads !== undefined ? { workloads: a.workloads.split(',').filter(Boolean) } : {}),
        ...(a.render !== undefined ? { render: a.render } : {}),
      });
    } catch (err) {
      console.error(`netmon bench: ${(err as Error).message}`);
      process.exitCode = 1;
    }
    // autocannon and child-process handles must not keep the CLI alive
    setTimeout(() => process.exit(), 500).unref();
  },
};
