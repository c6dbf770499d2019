// Paced HTTP keep-alive load: request i is sent at i / rate seconds into the run
// (or as soon as a connection frees up after that), over at most `concurrent`
// kept-alive connections. autocannon's own rate limit sends each second's quota in
// one burst at the top of the second, which measures the burst, not the rate.
import { Agent, request } from 'node:http';
import type { ResolvedTraffic } from './options.js';
import { errorKind, type Recorder } from './recorder.js';
import { sleep } from './pace.js';

export async function runHttpPaced(o: ResolvedTraffic, rec: Recorder, deadline: AbortSignal): Promise<void> {
  const rate = o.rate!;
  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrent, maxFreeSockets: o.concurrent });
  const started = performance.now();
  let issued = 0;
  const stop = (): void => agent.destroy();
  deadline.addEventListener('abort', stop, { once: true });
  const loop = async (): Promise<void> => {
    for (;;) {
      if (deadline.aborted || (o.requests !== undefined && issued >= o.requests)) return;
      const i = issued++;
      const wait = started + (i / rate) * 1000 - performance.now();
      if (wait > 0) await sleep(wait, deadline);
      if (deadline.aborted) return;
      await once(o, agent, rec, deadline);
    }
  };
  try {
    await Promise.all(Array.from({ length: o.concurrent }, loop));
  } finally {
    deadline.removeEventListener('abort', stop);
    agent.destroy();
  }
}

function once(o: ResolvedTraffic, agent: Agent, rec: Recorder, deadline: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      // a request cut by the run's deadline is not counted either way
      if (!deadline.aborted) fn();
      resolve();
    };
    const req = request({ host: o.host, port: o.port, path: o.path, agent, timeout: o.timeoutMs }, (res) => {
      const status = res.statusCode ?? 0;
      const backend = res.headers['x-backend'];
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      res.on('end', () =>
        settle(() => {
          rec.bytesRead += bytes;
          rec.status(status);
          if (typeof backend === 'string') rec.backend(backend);
          if (status < 400) rec.success(performance.now() - t0);
          else rec.error(`http_${status}`);
        }),
      );
      res.on('aborted', () => settle(() => rec.error('closed')));
      res.on('error', () => settle(() => rec.error('closed')));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: Error & { code?: string }) =>
      settle(() => rec.error(err.code === 'ECONNRESET' ? 'closed' : errorKind(err))),
    );
    req.end();
  });
}
