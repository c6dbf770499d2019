import type { CommandModule } from 'yargs';

interface Args {
  requests?: number;
  concurrent: number;
  target: string;
  rate?: number;
  mode: string;
  duration?: string;
  path: string;
  'new-connection': boolean;
  timeout: string;
  payload?: string;
  'read-bytes'?: number;
  'allow-remote': boolean;
  json: boolean;
  progress: string;
}

export const trafficCommand: CommandModule<object, Args> = {
  command: 'traffic',
  describe: 'generate bounded HTTP or TCP load against a listener or backend and summarise it',
  builder: (y) =>
    y
      .option('requests', {
        alias: 'n',
        type: 'number',
        describe: 'total requests (TCP: connections); default 1000 without --duration',
      })
      .option('concurrent', { alias: 'c', type: 'number', default: 10, describe: 'connections in flight' })
      .option('target', {
        alias: 't',
        type: 'string',
        default: '127.0.0.1:8080',
        describe: 'host:port (loopback only unless --allow-remote)',
      })
      .option('rate', { alias: 'r', type: 'number', describe: 'requests per second over all connections' })
      .option('mode', {
        choices: ['http', 'tcp'],
        default: 'http',
        describe: 'HTTP keep-alive (autocannon) or one TCP connection per request',
      })
      .option('duration', { alias: 'd', type: 'string', describe: 'stop after this long, e.g. "10s"' })
      .option('path', { type: 'string', default: '/', describe: 'HTTP request path' })
      .option('new-connection', { type: 'boolean', default: false, describe: 'HTTP: a new connection per request' })
      .option('timeout', { type: 'string', default: '10s', describe: 'per request' })
      .option('payload', {
        type: 'string',
        describe: 'TCP: bytes to send (default an HTTP/1.0 GET /); \\r \\n are unescaped',
      })
      .option('read-bytes', {
        type: 'number',
        describe: 'TCP: the reply is complete after this many bytes (default: when the server closes)',
      })
      .option('allow-remote', { type: 'boolean', default: false, describe: 'allow a target that is not loopback' })
      .option('progress', { choices: ['auto', 'bar', 'lines', 'none'], default: 'auto' })
      .option('json', { type: 'boolean', default: false, describe: 'print the summary as JSON' })
      .example('$0 traffic --requests 1000 --concurrent 10', '1000 HTTP requests to 127.0.0.1:8080')
      .example('$0 traffic -t 127.0.0.1:5001 --mode tcp -d 10s --rate 200', 'TCP connections at 200/s for 10 s'),
  handler: async (a) => {
    const { runTraffic, formatSummary, parseDuration } = await import('../bench/traffic/cli-entry.js');
    try {
      const durationMs = a.duration !== undefined ? parseDuration(a.duration, 'duration') : undefined;
      const summary = await runTraffic({
        target: a.target,
        mode: a.mode as 'http' | 'tcp',
        requests: a.requests ?? (durationMs === undefined ? 1000 : undefined),
        durationMs,
        concurrent: a.concurrent,
        rate: a.rate,
        path: a.path,
        newConnection: a['new-connection'],
        timeoutMs: parseDuration(a.timeout, 'timeout'),
        ...(a.payload !== undefined ? { tcpPayload: a.payload.replace(/\\r/g, '\r').replace(/\\n/g, '\n') } : {}),
        ...(a['read-bytes'] !== undefined ? { tcpReadBytes: a['read-bytes'] } : {}),
        allowRemote: a['allow-remote'],
        progress: a.json ? 'none' : (a.progress as 'auto'),
      });
      console.log(a.json ? JSON.stringify(summary, null, 2) : formatSummary(summary));
      if (summary.ok === 0) process.exitCode = 2;
    } catch (err) {
      const code = (err as { code?: string }).code;
      console.error(`netmon traffic: ${(err as Error).message}${code ? ` [${code}]` : ''}`);
      process.exitCode = 1;
    }
  },
};
