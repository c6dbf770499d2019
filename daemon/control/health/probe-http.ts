// http: GET `path` with a Host header and `Connection: close`; healthy when an
// HTTP/1.0 or HTTP/1.1 response's status equals `expect_status`. The verdict is the
// status line's, as HAProxy's `option httpchk` and nginx's `health_check` decide: a
// body that never ends, or a response without framing on a connection kept open,
// changes nothing. A body is read only to get agent data (agent.ts), only when it is
// framed (Content-Length or chunked, RFC 9112 section 6) and within AGENT_MAX_BODY;
// the probe's connection is closed as soon as the verdict (and agent data) is in.
import http from 'node:http';
import { parseAgent } from './agent.js';
import { guardProbe, type ProbeSession } from './probe-guard.js';
import type { HttpCheck, Probe, ProbeTarget } from './probe-types.js';

/** Bytes of a framed body read for agent data; past this the body is not read (agent JSON is a few dozen bytes). */
export const AGENT_MAX_BODY = 8 * 1024;

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
    let response: http.IncomingMessage | undefined;
    req.on('finish', () => (s.phase = 'response'));
    req.on('error', (err) => {
      // Bytes after a complete response (past its Content-Length, on a connection the
      // backend closes) are not part of it. Node's parser reports them only when they
      // arrive with the end of the body, so the verdict would depend on how the bytes
      // were cut into segments: the complete response decides, on its 'end'.
      if (response?.complete) return;
      s.fail(err);
    });
    req.on('response', (res) => {
      response = res;
      const status = res.statusCode ?? 0;
      // Node's parser also takes an `HTTP/2.0` (and `HTTP/0.9`) status line; neither is an
      // answer to an HTTP/1.1 request (RFC 9112 2.3), so it is no proof of health: fail closed
      if (res.httpVersion !== '1.1' && res.httpVersion !== '1.0') {
        s.finish(false, `HTTP/${res.httpVersion} ${status} is not an HTTP/1.x response`);
        return;
      }
      if (status !== check.expectStatus) {
        s.finish(false, `HTTP ${status}, expected ${check.expectStatus}`);
        return;
      }
      readAgent(s, res, `HTTP ${status}`, check.timeout);
    });
    req.end();
    // whichever way the probe settles, its connection is closed now
    return () => req.destroy();
  });

/**
 * The status already says healthy: settle now unless a framed body small
 * enough to hold agent data follows, then settle when it ends. A framed body
 * that stalls or is cut off settles healthy without agent data.
 */
function readAgent(s: ProbeSession, res: http.IncomingMessage, verdict: string, timeoutMs: number): void {
  const framing = bodyFraming(res);
  if (framing === 'none') {
    s.finish(true, verdict);
    return;
  }
  if (typeof framing === 'number' && framing > AGENT_MAX_BODY) {
    s.finish(true, `${verdict}, body of ${framing} bytes not read (agent data up to ${AGENT_MAX_BODY})`);
    return;
  }
  s.phase = 'body';
  s.onTimeout = () => s.finish(true, `${verdict}, agent body incomplete after ${timeoutMs} ms, ignored`);
  const chunks: Buffer[] = [];
  let size = 0;
  res.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > AGENT_MAX_BODY) {
      s.finish(true, `${verdict}, body over ${AGENT_MAX_BODY} bytes not read`);
      return;
    }
    chunks.push(chunk);
  });
  res.on('end', () => s.finish(true, verdict, parseAgent(Buffer.concat(chunks, size).toString('utf8'))));
  res.on('error', () => s.finish(true, `${verdict}, agent body cut off, ignored`));
}

/**
 * How the response's body is delimited: its Content-Length, 'chunked', or
 * 'none' (no body, or one that only the connection's close would end).
 */
function bodyFraming(res: http.IncomingMessage): number | 'chunked' | 'none' {
  const te = res.headers['transfer-encoding'];
  if (te !== undefined && /(^|,)\s*chunked\s*$/i.test(te)) return 'chunked';
  const cl = res.headers['content-length'];
  if (cl === undefined || !/^\d{1,15}$/.test(cl)) return 'none';
  const n = Number(cl);
  return n === 0 ? 'none' : n;
}

/** Default Host header: the backend's own address, port omitted when it is 80. */
export function hostHeader(target: ProbeTarget): string {
  const name = target.name ?? target.host;
  const host = name.includes(':') ? `[${name}]` : name;
  return target.port === 80 ? host : `${host}:${target.port}`;
}
