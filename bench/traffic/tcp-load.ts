// Raw TCP load: `concurrent` loops, each connecting, writing the payload with a
// half-close, reading the reply, closing; bounded by a request count and a deadline.
// With a rate, request i starts no earlier than i / rate seconds into the run.
import { connect, type Socket } from 'node:net';
import type { ResolvedTraffic } from './options.js';
import { backendFromReply, errorKind, type Recorder } from './recorder.js';
import { sleep } from './pace.js';

/** enough of a reply to find a backend name in it */
const NAME_PEEK = 512;
const HTTP_STATUS = /^HTTP\/1\.[01] (\d{3}) /;

export async function runTcpLoad(o: ResolvedTraffic, rec: Recorder, deadline: AbortSignal): Promise<void> {
  let issued = 0;
  const started = performance.now();
  const open = new Set<Socket>();
  const abortAll = (): void => {
    for (const s of open) s.destroy();
  };
  deadline.addEventListener('abort', abortAll, { once: true });
  const loop = async (): Promise<void> => {
    for (;;) {
      if (deadline.aborted) return;
      if (o.requests !== undefined && issued >= o.requests) return;
      const i = issued++;
      if (o.rate !== undefined) {
        const wait = started + (i / o.rate) * 1000 - performance.now();
        if (wait > 0) {
          await sleep(wait, deadline);
          if (deadline.aborted) {
            issued--;
            return;
          }
        }
      }
      await oneRequest(o, rec, open, deadline);
    }
  };
  try {
    await Promise.all(Array.from({ length: o.concurrent }, loop));
  } finally {
    deadline.removeEventListener('abort', abortAll);
  }
}

function oneRequest(o: ResolvedTraffic, rec: Recorder, open: Set<Socket>, deadline: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const socket = connect({ host: o.host, port: o.port, noDelay: true, allowHalfOpen: true });
    open.add(socket);
    let received = 0;
    let peek = '';
    let settled = false;
    const settle = (outcome: 'ok' | string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      open.delete(socket);
      socket.destroy();
      rec.bytesRead += received;
      if (outcome !== 'ok' && deadline.aborted) {
        // cut by the run's deadline, not failed: not counted
      } else if (outcome === 'ok') {
        // an HTTP reply carried over raw TCP still says whether it failed
        const status = HTTP_STATUS.exec(peek);
        if (status) rec.status(Number(status[1]));
        if (status && Number(status[1]) >= 400) rec.error(`http_${status[1]}`);
        else rec.success(performance.now() - t0);
        const name = backendFromReply(peek);
        if (name) rec.backend(name);
      } else {
        rec.error(outcome);
      }
      resolve();
    };
    const timer = setTimeout(() => settle('timeout'), o.timeoutMs);
    socket.on('connect', () => socket.end(o.tcpPayload));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (peek.length < NAME_PEEK) peek += chunk.toString('latin1', 0, Math.min(chunk.length, NAME_PEEK));
      if (o.tcpReadBytes !== undefined && o.tcpReadBytes > 0 && received >= o.tcpReadBytes) settle('ok');
    });
    socket.on('end', () => {
      const want = o.tcpReadBytes ?? 1;
      settle(received >= want ? 'ok' : 'closed');
    });
    socket.on('error', (err: Error & { code?: string }) => settle(errorKind(err)));
    socket.on('close', () => settle('closed'));
  });
}
