// An HTTP control endpoint for a group of simulated backends, for the raw TCP
// modes that have no /_sim route of their own (HTTP backends have both):
//   GET  /_sim              every backend's behaviour and counters
//   GET  /NAME/_sim         one backend's
//   POST /NAME/_sim         change it (the same JSON as an HTTP backend's POST /_sim)
//   POST /NAME/_sim/reset   back to its starting behaviour
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { describeBehaviour } from './behaviour.js';
import { postSim, replyJson } from './sim-endpoint.js';
import type { SimBackend } from './sim-backend.js';

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
    const reply = (status: number, data: unknown): void => replyJson(res, status, data);
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
    postSim(req, res, target, Boolean(m[2]), () => describe(target));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
