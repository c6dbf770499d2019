// Many idle connections held through the proxy: its resident memory once every
// one of them reached a backend. The count is bounded by the fd limit: the proxy
// holds two sockets per connection.
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { treeRssBytes } from '../measure/proc.js';
import type { Workload } from './types.js';

const BATCH = 200;

function openConnection(port: number): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => resolve(s));
    s.once('error', () => resolve(undefined));
  });
}

/** connections the HTTP backends hold open now (minus the one asking) */
async function backendConnections(ports: readonly number[]): Promise<number> {
  let total = 0;
  for (const port of ports) {
    total += await new Promise<number>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/_sim', agent: false, timeout: 2000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          try {
            resolve(Math.max(0, (JSON.parse(body) as { stats: { connections: number } }).stats.connections - 1));
          } catch {
            resolve(0);
          }
        });
      });
      req.on('error', () => resolve(0));
      req.on('timeout', () => req.destroy());
      req.end();
    });
  }
  return total;
}

async function waitUntil(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** how many idle connections fit under this process's fd limit for a proxy holding two per connection */
export function idleConnectionsFor(fdLimit: number, wanted: number): number {
  return Math.max(0, Math.min(wanted, Math.floor((fdLimit - 1000) / 2)));
}

export const idle: Workload = {
  name: 'idle',
  title: 'idle connections held open (a freshly started proxy)',
  freshProxy: true,
  unavailable: () => Promise.resolve(undefined),
  async run(proxy, ctx) {
    const n = ctx.idleConnections;
    const base = await backendConnections(ctx.httpBackends);
    const rssBefore = proxy.pid !== undefined ? treeRssBytes(proxy.pid) : NaN;
    const sockets: Socket[] = [];
    let failed = 0;
    try {
      for (let i = 0; i < n; i += BATCH) {
        const opened = await Promise.all(
          Array.from({ length: Math.min(BATCH, n - i) }, () => openConnection(proxy.httpPort)),
        );
        for (const s of opened) {
          if (s) {
            s.on('error', () => {});
            sockets.push(s);
          } else failed++;
        }
      }
      const reached = await waitUntil(
        async () => (await backendConnections(ctx.httpBackends)) - base >= sockets.length,
        10_000,
      );
      const held = (await backendConnections(ctx.httpBackends)) - base;
      if (!reached) ctx.log(`  ${proxy.name}: only ${held} of ${sockets.length} connections reached a backend`);
      // let allocations settle before reading the resident size
      await new Promise((r) => setTimeout(r, 1000));
      const rss = proxy.pid !== undefined ? treeRssBytes(proxy.pid) : NaN;
      return {
        connections: held,
        failed,
        rss_mb: rss / 1048576,
        rss_before_mb: rssBefore / 1048576,
        kb_per_connection: held > 0 ? (rss - rssBefore) / 1024 / held : NaN,
      };
    } finally {
      for (const s of sockets) s.destroy();
      await waitUntil(async () => (await backendConnections(ctx.httpBackends)) - base <= 0, 15_000);
    }
  },
};
