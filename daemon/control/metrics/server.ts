// The metrics side port: GET /metrics (Prometheus text), /stats (the JSON
// snapshot, as `ctl show stats`), /healthz and / (version and links). Read-only:
// nothing here changes the daemon, and any other method gets 405.
// /healthz is for routing tools (keepalived, a BGP speaker's health hook, a cloud
// load balancer's target check): 200 "ok" while the instance should get new
// traffic, 503 with the reasons while it should not (stopping, no listener open,
// a critical pool without a backend up); service-health.ts decides.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { NetmonError } from '../../errors.js';
import { log } from '../../log.js';
import { VERSION } from '../../version.js';
import { createRegistry, type MetricsSource } from './registry.js';
import type { Address } from '../../config/schema.js';
import type { Registry } from 'prom-client';
import type { ControlServerStats } from '../socket/server.js';

export interface MetricsServer {
  /** where it listens; null when the metrics port is off */
  readonly address: { host: string; port: number } | null;
  close(): Promise<void>;
}

// a scraper is a handful of clients: a small cap keeps a misbehaving one from
// costing the control plane more than a few sockets
const MAX_CONNECTIONS = 64;
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * Listens on `listen` (null = metrics off); `control` gives the control socket's
 * counters. A bind failure rejects with E_METRICS_LISTEN.
 */
export async function startMetricsServer(
  source: MetricsSource,
  listen: Address | null,
  control?: () => ControlServerStats,
): Promise<MetricsServer> {
  if (listen === null) return { address: null, close: async () => undefined };
  const registry = createRegistry(source, control);
  const server = http.createServer((req, res) => {
    handle(source, registry, req, res).catch((err: unknown) => {
      log.warn('metrics request failed', { path: req.url, err });
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });
  server.maxConnections = MAX_CONNECTIONS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'EADDRINUSE'
          ? 'address already in use'
          : err.code === 'EACCES'
            ? 'permission denied'
            : err.message;
      reject(
        new NetmonError(
          'E_METRICS_LISTEN',
          `metrics: cannot listen on ${listen.text}: ${why} (set [metrics] listen, or "off")`,
        ),
      );
    });
    server.listen({ host: listen.host, port: listen.port }, () => resolve());
  });
  const a = server.address() as AddressInfo;
  log.info('metrics port listening', { listen: `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` });
  return {
    address: { host: a.address, port: a.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(
  source: MetricsSource,
  registry: Registry,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    send(res, 405, 'text/plain; charset=utf-8', 'method not allowed: the metrics port is read-only\n');
    return;
  }
  const route = Object.hasOwn(ROUTES, path ?? '') ? ROUTES[path!] : undefined;
  if (!route) {
    send(res, 404, 'text/plain; charset=utf-8', `not found: ${path}\nsee / for the list of paths\n`);
    return;
  }
  const [type, body, status = 200] = await route(source, registry);
  send(res, status, type, req.method === 'HEAD' ? '' : body, Buffer.byteLength(body));
}

type Route = (source: MetricsSource, registry: Registry) => Promise<[string, string, number?]>;

const ROUTES: Record<string, Route> = {
  '/metrics': async (_s, registry) => [registry.contentType, await registry.metrics()],
  '/stats': async (s) => ['application/json; charset=utf-8', JSON.stringify(s.snapshot()) + '\n'],
  '/healthz': async (s) => {
    const h = s.serviceHealth();
    if (h.healthy) return ['text/plain; charset=utf-8', 'ok\n'];
    return [
      'text/plain; charset=utf-8',
      `unhealthy\n${h.reasons.map((r) => `${r.code}: ${r.message}\n`).join('')}`,
      503,
    ];
  },
  '/': async () => ['text/html; charset=utf-8', indexPage()],
};

function indexPage(): string {
  return [
    '<!doctype html>',
    `<html><head><title>netmon ${VERSION}</title></head><body>`,
    `<h1>netmon ${VERSION}</h1>`,
    '<ul>',
    '<li><a href="/metrics">/metrics</a>: Prometheus text format</li>',
    '<li><a href="/stats">/stats</a>: JSON snapshot (as <code>netmon ctl show stats</code>)</li>',
    '<li><a href="/healthz">/healthz</a>: 200 while this instance should get new traffic, 503 otherwise</li>',
    '</ul></body></html>',
    '',
  ].join('\n');
}

function send(
  res: http.ServerResponse,
  status: number,
  type: string,
  body: string,
  length = Buffer.byteLength(body),
): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': length, 'Cache-Control': 'no-store' });
  res.end(body);
}
