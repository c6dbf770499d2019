// http: GET `path` with a Host header and `Connection: close`; healthy when the
// status equals `expect_status`. A JSON body may carry agent data (agent.ts).
import http from 'node:http';
import { parseAgent } from './agent.js';
import { guardProbe } from './probe-guard.js';
import type { HttpCheck, Probe, ProbeTarget } from './probe-types.js';

/** Bodies past this are not buffered: agent JSON is a few dozen bytes. */
export const HTTP_MAX_BODY = 64 * 1024;

export const probeHttp: Probe<HttpCheck> = (target, check, signal) =>
  guardProbe(check.timeout, signal, (s) => {
    const req = http.request({
      host: target.host,
      port: target.port,
      method: 'GET',
      path: check.path,
      // a fresh socket per probe: a pooled one could hide a backend that stopped accepting
      agent: false,
      setHost: false,
      headers: {
        Host: check.host !== '' ? check.host : hostHeader(target),
        Connection: 'close',
        'User-Agent': 'netmon-health',
        Accept: 'application/json, */*',
      },
    });
    req.on('finish', () => (s.phase = 'response'));
    req.on('error', (err) => s.fail(err));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      if (status !== check.expectStatus) {
        s.finish(false, `HTTP ${status}, expected ${check.expectStatus}`);
        return;
      }
      s.phase = 'body';
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > HTTP_MAX_BODY) {
          // the status already says healthy; an unread body only loses the agent data
          s.finish(true, `HTTP ${status}, body over ${HTTP_MAX_BODY} bytes ignored`);
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        const agent = parseAgent(Buffer.concat(chunks, size).toString('utf8'));
        s.finish(true, `HTTP ${status}`, agent);
      });
      res.on('error', (err) => s.fail(err));
    });
    req.end();
    return () => req.destroy();
  });

/** Default Host header: the backend's own address, port omitted when it is 80. */
export function hostHeader(target: ProbeTarget): string {
  const name = target.name ?? target.host;
  const host = name.includes(':') ? `[${name}]` : name;
  return target.port === 80 ? host : `${host}:${target.port}`;
}
