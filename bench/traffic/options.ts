// Options of the traffic generator, validated once. A run is always bounded by a
// request count and/or a duration, and goes to loopback unless told otherwise.
import { isIP } from 'node:net';
import { NetmonError } from '../../daemon/errors.js';

type TrafficMode = 'http' | 'tcp';
export type ProgressStyle = 'auto' | 'bar' | 'lines' | 'none';

export interface TrafficOptions {
  /** host:port, default 127.0.0.1:8080 */
  target?: string;
  /** default http */
  mode?: TrafficMode;
  /** total requests (HTTP) or connections (TCP); with duration, whichever ends first */
  requests?: number;
  /** milliseconds; with requests, whichever ends first */
  durationMs?: number;
  /** connections in flight, default 10 */
  concurrent?: number;
  /** requests per second over all connections; default as fast as possible */
  rate?: number;
  /** HTTP: request path, default "/" */
  path?: string;
  /** HTTP: a new connection per request instead of keep-alive */
  newConnection?: boolean;
  /** per request, default 10 s */
  timeoutMs?: number;
  /** TCP: bytes written on each connection, then a half-close; default an HTTP/1.0 GET / */
  tcpPayload?: string | Buffer;
  /** TCP: the reply is complete after this many bytes; default when the server closes (0 = no reply expected) */
  tcpReadBytes?: number;
  allowRemote?: boolean;
  /** auto: a bar on a TTY, a line every 2 s otherwise */
  progress?: ProgressStyle;
  /** where the progress goes, default process.stderr */
  progressStream?: NodeJS.WriteStream;
}

export interface ResolvedTraffic {
  host: string;
  port: number;
  target: string;
  mode: TrafficMode;
  requests: number | undefined;
  durationMs: number | undefined;
  concurrent: number;
  rate: number | undefined;
  path: string;
  newConnection: boolean;
  timeoutMs: number;
  tcpPayload: Buffer;
  tcpReadBytes: number | undefined;
  progress: ProgressStyle;
  progressStream: NodeJS.WriteStream;
}

/** a run with no duration still ends after this long, whatever the backends do */
export const HARD_LIMIT_MS = 10 * 60_000;

function parseTarget(target: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(target) ?? /^([^:]+):(\d+)$/.exec(target);
  if (!m) throw new NetmonError('E_ADDRESS', `target: expected host:port or [v6]:port, got "${target}"`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new NetmonError('E_PORT_RANGE', `target: port must be 1..65535, got ${port}`);
  return { host: m[1]!, port };
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  const v = isIP(host);
  if (v === 4) return host.startsWith('127.');
  if (v === 6) return host === '::1' || /^::ffff:127\./i.test(host);
  return false;
}

function positiveInt(v: number | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < 1) throw new NetmonError('E_RANGE', `${what}: must be a positive integer, got ${v}`);
  return v;
}

export function resolveTraffic(o: TrafficOptions): ResolvedTraffic {
  const target = o.target ?? '127.0.0.1:8080';
  const { host, port } = parseTarget(target);
  if (!o.allowRemote && !isLoopback(host)) {
    throw new NetmonError(
      'E_BAD_ARGUMENT',
      `target ${target} is not a loopback address; pass --allow-remote to load it`,
    );
  }
  const requests = positiveInt(o.requests, 'requests');
  const concurrent = positiveInt(o.concurrent ?? 10, 'concurrent')!;
  const rate = o.rate === undefined ? undefined : o.rate > 0 ? o.rate : undefined;
  if (o.rate !== undefined && !(o.rate > 0)) throw new NetmonError('E_RANGE', `rate: must be above 0, got ${o.rate}`);
  if (o.durationMs !== undefined && !(o.durationMs > 0)) {
    throw new NetmonError('E_RANGE', `duration: must be above 0, got ${o.durationMs}ms`);
  }
  if (requests === undefined && o.durationMs === undefined) {
    throw new NetmonError('E_BAD_ARGUMENT', 'give --requests and/or --duration: a run must be bounded');
  }
  const mode = o.mode ?? 'http';
  if (mode !== 'http' && mode !== 'tcp')
    throw new NetmonError('E_ENUM', `mode: must be http or tcp, got "${String(mode)}"`);
  const timeoutMs = o.timeoutMs ?? 10_000;
  if (!(timeoutMs >= 1)) throw new NetmonError('E_RANGE', `timeout: must be at least 1ms, got ${timeoutMs}`);
  const path = o.path ?? '/';
  const payload =
    o.tcpPayload ??
    (mode === 'http'
      ? `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`
      : `GET / HTTP/1.0\r\nHost: ${host}\r\n\r\n`);
  return {
    host,
    port,
    target,
    mode,
    requests,
    durationMs: o.durationMs,
    concurrent: requests !== undefined ? Math.min(concurrent, requests) : concurrent,
    rate,
    path,
    newConnection: o.newConnection ?? false,
    timeoutMs,
    tcpPayload: typeof payload === 'string' ? Buffer.from(payload) : payload,
    tcpReadBytes: o.tcpReadBytes,
    progress: o.progress ?? 'auto',
    progressStream: o.progressStream ?? process.stderr,
  };
}
