import type { CommandModule } from 'yargs';

interface Args {
  count: number;
  'base-port': number;
  host: string;
  mode: string;
  latency?: string;
  'error-rate'?: string;
  'error-spread'?: string;
  'cpu-burn'?: string;
  fault?: string;
  'data-size'?: number;
  'source-bytes'?: number;
  'crash-exits': boolean;
  'control-port'?: number;
}

export const backendsCommand: CommandModule<object, Args> = {
  command: 'backends',
  describe: 'run simulated backends (HTTP or raw TCP) for tests, demos and benchmarks',
  builder: (y) =>
    y
      .option('count', { alias: 'n', type: 'number', default: 3, describe: 'how many backends (b1..bN)' })
      .option('base-port', {
        alias: 'p',
        type: 'number',
        default: 5001,
        describe: 'port of b1; bN gets base+N-1; 0 = ephemeral',
      })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to listen on' })
      .option('mode', { choices: ['http', 'echo', 'sink', 'source'], default: 'http', describe: 'protocol served' })
      .option('latency', {
        type: 'string',
        describe: '"10ms", "normal:50ms:10ms", "uniform:10ms:200ms", "exp:20ms"; comma list = per backend',
      })
      .option('error-rate', {
        type: 'string',
        describe: 'share 0..1 of requests answered 500 (reset in TCP modes); comma list = per backend',
      })
      .option('error-spread', {
        choices: ['random', 'even'],
        describe: 'random draws, or exactly rate x N errors spread evenly',
      })
      .option('cpu-burn', { type: 'string', describe: 'busy CPU per request, e.g. "2ms"; comma list = per backend' })
      .option('fault', {
        type: 'string',
        describe: 'none|refuse|hang|slow|close|crash|unhealthy at start; comma list = per backend',
      })
      .option('data-size', { type: 'number', describe: 'bytes of GET /api/data (default 1024)' })
      .option('source-bytes', {
        type: 'number',
        describe: 'source mode: bytes per connection, 0 = until the client leaves',
      })
      .option('crash-exits', { type: 'boolean', default: false, describe: 'fault crash exits the process (code 70)' })
      .option('control-port', {
        type: 'number',
        describe: 'HTTP control for every backend: GET/POST /NAME/_sim (what TCP modes use)',
      })
      .example('$0 backends --count 3 --base-port 5001', 'three HTTP backends on 5001..5003')
      .example('$0 backends -n 3 --latency 5ms,200ms,5ms --error-rate 0,0,0.2', 'fast, slow and flaky')
      .example(`curl -XPOST localhost:5002/_sim -d '{"fault":"hang","faultFor":"10s"}'`, 'b2 hangs for 10 s'),
  handler: async (a) => {
    const { runBackendsCli } = await import('../backends/cli-run.js');
    try {
      await runBackendsCli({
        count: a.count,
        basePort: a['base-port'],
        host: a.host,
        mode: a.mode as 'http',
        ...(a.latency !== undefined ? { latency: a.latency } : {}),
        ...(a['error-rate'] !== undefined ? { errorRate: String(a['error-rate']) } : {}),
        ...(a['error-spread'] !== undefined ? { errorSpread: a['error-spread'] } : {}),
        ...(a['cpu-burn'] !== undefined ? { cpuBurn: a['cpu-burn'] } : {}),
        ...(a.fault !== undefined ? { fault: a.fault } : {}),
        ...(a['data-size'] !== undefined ? { dataSize: a['data-size'] } : {}),
        ...(a['source-bytes'] !== undefined ? { sourceBytes: a['source-bytes'] } : {}),
        crashExits: a['crash-exits'],
        ...(a['control-port'] !== undefined ? { controlPort: a['control-port'] } : {}),
      });
    } catch (err) {
      const code = (err as { code?: string }).code;
      console.error(`netmon backends: ${(err as Error).message}${code ? ` [${code}]` : ''}`);
      process.exitCode = 1;
    }
  },
};
