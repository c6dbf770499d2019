// An HTTP control endpoint for a group of simulated backends, for the raw TCP
// modes that have no /_sim route of their own (HTTP backends have both):
//   GET  /_sim              every backend's behaviour and counters
//   GET  /NAME/_sim         one backend's
//   POST /NAME/_sim         change it (the same JSON as an HTTP backend's POST /_sim)
//   POST /NAME/_sim/reset   back to its starting behaviour
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { NetmonError } from '../daemon/errors.js';
import { describeBehaviour, parsePatch } from './behaviour.js';
import type { SimBackend } from './sim-backend.js';

const MAX_BODY = 64 * 1024;

function describe(b: SimBackend): Record<string, unknown> {
  return {
    name: b.name,
    mode: b.mode,
    address: b.address,
    behaviour: describeBehaviour(b.behaviour()),
    stats: b.stats(),
  };
}

export function startControlServer(backends: readonly SimBackend[], host: string, port: number): Promise<Server> {
  const byName = new Map(backends.map((b) => [b.name, b]));
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const reply = (status: number, data: unknown): void => {
      const body = JSON.stringify(data);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    const fail = (err: unknown): void => {
      if (err instanceof NetmonError) reply(400, { error: err.toJSON() });
      else reply(500, { error: { code: 'E_INTERNAL', message: String(err) } });
    };
    const m = /^\/(?:([\w.-]+)\/)?_sim(\/reset)?$/.exec(req.url ?? '');
    const target = m?.[1] !== undefined ? byName.get(m[1]) : undefined;
    if (!m || (m[1] !== undefined && !target)) {
      req.resume();
      reply(404, {
        error: { code: 'E_BAD_REQUEST', message: `no such route; backends: ${[...byName.keys()].join(', ')}` },
      });
      return;
    }
    if (req.method === 'GET' && !m[2]) {
      req.resume();
      reply(200, target ? describe(target) : backends.map(describe));
      return;
    }
    if (req.method !== 'POST' || !target) {
      req.resume();
      reply(405, { error: { code: 'E_BAD_REQUEST', message: 'POST /NAME/_sim or /NAME/_sim/reset' } });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_BODY)
        return reply(413, { error: { code: 'E_LINE_TOO_LONG', message: `body over ${MAX_BODY} bytes` } });
      if (m[2]) return void target.reset().then(() => reply(200, describe(target)), fail);
      let patch;
      try {
        patch = parsePatch(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'));
      } catch (err) {
        return fail(err instanceof SyntaxError ? new NetmonError('E_BAD_REQUEST', 'the body is not valid JSON') : err);
      }
      target.setBehaviour(patch).then(() => reply(200, describe(target)), fail);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
