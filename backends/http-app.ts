// The HTTP face of a simulated backend. Routes:
//   GET /          "hello from <name>" (application route)
//   GET /api/data  sample JSON, ?size=<bytes> or the configured dataSize (application route)
//   GET /health    agent JSON {status, name, cpu, memory, connections, ...}
//   GET /metrics   Prometheus text of this backend's own registry
//   GET /_sim      current behaviour and stats; POST /_sim {latency, errorRate, cpuBurn, fault, ...}
//   POST /_sim/reset  back to the behaviour it started with
// latency, errorRate and cpuBurn shape the application routes; faults shape every
// route except /_sim, which stays answerable so a fault can be lifted over HTTP.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { burnCpu, type BackendContext } from './context.js';
import { sampleLatency } from './latency.js';
import { memoryPercent } from './load-meter.js';
import { sampleData } from './sample-data.js';
import { postSim, replyJson } from './sim-endpoint.js';
const KEEP_ALIVE_MS = 30_000;

export function createHttpApp(ctx: BackendContext): Server {
  const server = createServer({ keepAliveTimeout: KEEP_ALIVE_MS, requestTimeout: 0, headersTimeout: 60_000 });
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  // answer a request whose client already half-closed (`printf 'GET / ...' | nc`,
  // the TCP traffic mode) instead of dropping it, as nginx and HAProxy do
  (server as unknown as { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  server.on('request', (req: IncomingMessage, res: ServerResponse) => handle(ctx, req, res));
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  return server;
}

function handle(ctx: BackendContext, req: IncomingMessage, res: ServerResponse): void {
  const started = performance.now();
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  res.setHeader('x-backend', ctx.name);
  if (path === '/_sim' || path === '/_sim/reset') {
    control(ctx, req, res, path);
    return;
  }
  // discard any request body so the keep-alive connection stays usable
  req.resume();
  const b = ctx.behaviour();
  if (b.fault === 'hang') return; // read, never answered
  ctx.counters.requests++;
  switch (path) {
    case '/':
      application(ctx, res, 'root', started, () => `hello from ${ctx.name}\n`, 'text/plain; charset=utf-8');
      return;
    case '/api/data': {
      const size = q < 0 ? b.dataSize : sizeParam(url.slice(q + 1), b.dataSize);
      application(ctx, res, 'data', started, () => sampleData(size), 'application/json');
      return;
    }
    case '/health': {
      const unhealthy = b.fault === 'unhealthy';
      const body = JSON.stringify({
        status: unhealthy ? 'fail' : 'ok',
        name: ctx.name,
        cpu: round1(ctx.cpuPercent()),
        memory: round1(memoryPercent()),
        connections: ctx.counters.openConnections,
        requests: ctx.counters.requests,
        fault: b.fault,
      });
      answer(ctx, res, 'health', started, unhealthy ? 503 : 200, 'application/json', body, 0);
      return;
    }
    case '/metrics':
      ctx.metrics.registry.metrics().then(
        (text) => answer(ctx, res, 'metrics', started, 200, ctx.metrics.registry.contentType, text, 0),
        (err: unknown) =>
          answer(ctx, res, 'metrics', started, 500, 'text/plain', `metrics failed: ${String(err)}\n`, 0),
      );
      return;
    default:
      answer(ctx, res, 'other', started, 404, 'text/plain', `no route ${path} on ${ctx.name}\n`, 0);
  }
}

/** An application request: CPU burn, simulated error, latency. */
function application(
  ctx: BackendContext,
  res: ServerResponse,
  route: string,
  started: number,
  body: () => string | Buffer,
  type: string,
): void {
  const b = ctx.behaviour();
  if (b.cpuBurnMs > 0) burnCpu(b.cpuBurnMs);
  const delay = sampleLatency(b.latency, ctx.random);
  if (ctx.decideError()) {
    ctx.counters.errors++;
    answer(ctx, res, route, started, 500, 'application/json', `{"error":"simulated","backend":"${ctx.name}"}`, delay);
    return;
  }
  answer(ctx, res, route, started, 200, type, body(), delay);
}

function answer(
  ctx: BackendContext,
  res: ServerResponse,
  route: string,
  started: number,
  status: number,
  type: string,
  body: string | Buffer,
  delayMs: number,
): void {
  const b = ctx.behaviour();
  const delay = delayMs + (b.fault === 'slow' ? sampleLatency(b.slowLatency, ctx.random) : 0);
  ctx.addBusy(performance.now() - started);
  if (delay > 0) setTimeout(finish, delay, ctx, res, route, started, status, type, body);
  else finish(ctx, res, route, started, status, type, body);
}

function finish(
  ctx: BackendContext,
  res: ServerResponse,
  route: string,
  started: number,
  status: number,
  type: string,
  body: string | Buffer,
): void {
  if (res.destroyed) return;
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  const fault = ctx.behaviour().fault;
  if (fault === 'hang') return;
  res.writeHead(status, { 'content-type': type, 'content-length': buf.length });
  if (fault === 'close') {
    // promise the whole body, deliver half, then drop the connection
    res.write(buf.subarray(0, buf.length >> 1), () => res.socket?.destroy());
    return;
  }
  res.end(buf);
  ctx.metrics.observe(route, status, (performance.now() - started) / 1000);
}

function control(ctx: BackendContext, req: IncomingMessage, res: ServerResponse, path: string): void {
  if (req.method === 'GET' && path === '/_sim') {
    req.resume();
    replyJson(res, 200, ctx.describe());
    return;
  }
  if (req.method !== 'POST') {
    req.resume();
    replyJson(res, 405, { error: { code: 'E_BAD_REQUEST', message: 'use GET /_sim, POST /_sim or POST /_sim/reset' } });
    return;
  }
  postSim(req, res, ctx, path === '/_sim/reset', () => ctx.describe());
}

function sizeParam(query: string, fallback: number): number {
  const m = /(?:^|&)size=(\d+)/.exec(query);
  return m ? Number(m[1]) : fallback;
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}
