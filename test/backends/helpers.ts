// Small HTTP and socket helpers for the simulated-backend tests.
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  ms: number;
}

export function httpRequest(
  port: number,
  path: string,
  opts: { method?: string; body?: string; agent?: Agent; timeoutMs?: number } = {},
): Promise<Reply> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', agent: opts.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
            ms: performance.now() - t0,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (opts.timeoutMs)
      req.setTimeout(opts.timeoutMs, () => req.destroy(Object.assign(new Error('timed out'), { code: 'TIMEOUT' })));
    req.end(opts.body);
  });
}

export function postSim(port: number, body: unknown, agent?: Agent): Promise<Reply> {
  return httpRequest(port, '/_sim', { method: 'POST', body: JSON.stringify(body), ...(agent ? { agent } : {}) });
}

/** resolves with the error code of a connect attempt, or "connected" */
export function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.on('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.on('error', (err: Error & { code?: string }) => resolve(err.code ?? 'error'));
  });
}

export function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.on('error', reject);
  });
}

/** everything a socket receives until it closes, and how it closed */
export function collect(s: Socket): Promise<{ data: Buffer; error: string | undefined }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: string | undefined;
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', (err: Error & { code?: string }) => {
      error = err.code ?? err.message;
    });
    s.on('close', () => resolve({ data: Buffer.concat(chunks), error }));
  });
}
