// HTTP load through autocannon's programmatic API. autocannon counts an attempt
// when it writes a request; an attempt that ends in neither a response nor an
// error (the server closed the connection mid-answer) is counted here as "closed",
// so ok + errors always equals the attempts made.
import autocannon, { type AutocannonClient } from 'autocannon';
import type { ResolvedTraffic } from './options.js';
import { errorKind, type Recorder } from './recorder.js';

export function runHttpLoad(o: ResolvedTraffic, rec: Recorder, deadline: AbortSignal): Promise<void> {
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  let sent = 0;
  const setupClient = (client: AutocannonClient): void => {
    client.on('request', () => {
      sent++;
    });
    client.on('headers', (info) => {
      const h = info.headers;
      for (let i = 0; i + 1 < h.length; i += 2) {
        if (h[i]!.length === 9 && h[i]!.toLowerCase() === 'x-backend') {
          rec.backend(h[i + 1]!);
          break;
        }
      }
    });
  };
  return new Promise((resolve, reject) => {
    let instance: ReturnType<typeof autocannon>;
    try {
      instance = autocannon(
        {
          url: `http://${host}:${o.port}${o.path}`,
          connections: o.concurrent,
          ...(o.requests !== undefined ? { amount: o.requests } : { duration: (o.durationMs ?? 0) / 1000 }),
          ...(o.rate !== undefined ? { overallRate: o.rate } : {}),
          timeout: Math.max(1, Math.ceil(o.timeoutMs / 1000)),
          setupClient,
        },
        (err) => {
          deadline.removeEventListener('abort', stop);
          if (err) {
            reject(err);
            return;
          }
          // A run that ended by its request count has nothing in flight: a request
          // written but neither answered nor failed was dropped by the server. A run
          // cut by its duration leaves requests in flight, which are not counted.
          if (o.requests !== undefined && !deadline.aborted) {
            const lost = sent - rec.done;
            for (let i = 0; i < lost; i++) rec.error('closed');
          }
          resolve();
        },
      );
    } catch (err) {
      reject(err);
      return;
    }
    const stop = (): void => instance.stop();
    deadline.addEventListener('abort', stop, { once: true });
    instance.on('response', (_client, status, bytes, ms) => {
      rec.bytesRead += bytes;
      rec.status(status);
      if (status < 400) rec.success(ms);
      else rec.error(`http_${status}`);
    });
    instance.on('reqError', (err) => rec.error(errorKind(err)));
  });
}
