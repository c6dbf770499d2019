// The http health check reading a backend's response (probe-http.ts over
// Node's HTTP parser, with the agent contract). The response bytes are served
// through an in-memory stream in place of the TCP socket (Node's http client
// takes any Duplex), cut in two at a point drawn from the input, fast enough for
// a million of them; one response in 8 is served again whole, cut elsewhere and
// (a short one) byte by byte, and one in 64 over a real loopback socket: each
// must get the same answer.
// Invariants: the probe settles once, with a boolean, a detail and a duration,
// before its timeout (the response ends with the stream);
// healthy only for an HTTP/1.x 200 status line; agent data only when healthy, and
// only valid fields; a well-formed response gets exactly the status verdict, and
// the agent data of its body when that body is framed (Content-Length or chunked)
// and within AGENT_MAX_BODY (an unframed or larger body is not read, by design);
// the answer does not depend on how the bytes arrive, except for a body the probe
// stopped reading (then what follows is not looked at).
import http from 'node:http';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { AGENT_MAX_BODY, probeHttp } from '../../../daemon/control/health/probe-http.js';
import type { HttpCheck, ProbeResult } from '../../../daemon/control/health/probe-types.js';
import { tokens } from '../mutate.js';
import type { Rng } from '../rng.js';
import { oracle } from '../oracle.js';
import { show, type FuzzTarget } from '../target.js';

interface Expect {
  ok: boolean;
  agent?: { cpu?: number; memory?: number; connections?: number };
}

const CHECK: HttpCheck = {
  type: 'http',
  interval: 1000,
  timeout: 1000,
  rise: 1,
  fall: 1,
  path: '/health',
  expectStatus: 200,
  host: '',
};

/** A socket stand-in that answers the first request written to it with `bytes` in pieces (cut before each of `cuts`), then ends. */
class CannedResponse extends Duplex {
  private sent = false;
  constructor(
    private readonly bytes: Buffer,
    private readonly cuts: readonly number[],
  ) {
    super();
  }
  override _write(_chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (!this.sent) {
      this.sent = true;
      // as a socket would: the answer arrives in a later turn, in pieces
      setImmediate(() => {
        let at = 0;
        for (const c of [...this.cuts, this.bytes.length]) {
          const end = Math.min(Math.max(c, at), this.bytes.length);
          this.push(this.bytes.subarray(at, end));
          at = end;
        }
        this.push(null);
      });
    }
    cb();
  }
  override _read(): void {}
  setTimeout(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}

type CreateConnection = (...args: unknown[]) => Duplex;
const agentProto = http.Agent.prototype as unknown as { createConnection: CreateConnection };
const realCreateConnection = agentProto.createConnection;
let canned: { bytes: Buffer; cuts: readonly number[] } | null = null;

/** Probes with the response served in memory, cut before each of `cuts` (null: by the loopback server). */
async function probe(bytes: Buffer, cuts: readonly number[] | null, port: number): Promise<ProbeResult> {
  canned = cuts === null ? null : { bytes, cuts };
  serving = bytes;
  agentProto.createConnection = function (this: unknown, ...args: unknown[]): Duplex {
    return canned ? new CannedResponse(canned.bytes, canned.cuts) : realCreateConnection.apply(this, args);
  };
  try {
    return await probeHttp({ host: '127.0.0.1', port }, CHECK);
  } finally {
    agentProto.createConnection = realCreateConnection;
  }
}

let server: net.Server | null = null;
let serverPort = 0;
let serving: Buffer = Buffer.alloc(0);

async function loopback(): Promise<number> {
  if (server) return serverPort;
  const s = net.createServer((c) => {
    c.on('error', () => {});
    const reply = serving;
    c.once('data', () => c.end(reply));
  });
  await new Promise<void>((r) => s.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  server = s;
  serverPort = (s.address() as net.AddressInfo).port;
  return serverPort;
}

function hash(b: Buffer): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

function verdict(r: ProbeResult): string {
  return show({ ok: r.ok, agent: r.agent });
}

/** Whether the probe stopped reading the body (over the limit, cut off): the rest of the response was not looked at. */
function stoppedEarly(r: ProbeResult): boolean {
  return r.detail.includes('ignored') || r.detail.includes('not read');
}

async function check(input: Buffer, expect?: Expect, thorough = false): Promise<string | null> {
  const h = hash(input);
  const r = await probe(input, [h % (input.length + 1)], 9);
  if (typeof r.ok !== 'boolean' || typeof r.detail !== 'string' || !(r.durationMs >= 0)) return `result ${show(r)}`;
  // the response ends with the stream: a probe that waits for its timeout is stuck
  if (r.detail.startsWith('timeout')) return `the probe waited for its timeout: ${show(r)}`;
  if (r.ok && !/(^|\n)HTTP\/1\.[01] 200[ \r]/.test(input.toString('latin1')))
    return `healthy without a 200: ${show(r)}`;
  if (r.agent) {
    const a = r.agent;
    const pct = (v: number | undefined): boolean => v === undefined || (Number.isFinite(v) && v >= 0 && v <= 100);
    if (!r.ok || !pct(a.cpu) || !pct(a.memory) || !(a.connections === undefined || a.connections >= 0))
      return `agent data ${show(r)}`;
  }
  if (expect && verdict(r) !== show({ ok: expect.ok, agent: expect.agent }))
    return `expected ${show(expect)}, got ${show(r)}`;
  // one input in 8 whole and cut elsewhere; short ones also byte by byte
  const others: number[][] =
    thorough || h % 8 === 0
      ? [[], [(h >>> 8) % (input.length + 1)], ...(input.length <= 512 ? [Array.from(input, (_, i) => i + 1)] : [])]
      : [];
  for (const cuts of others) {
    const other = await oracle(async () => probe(input, cuts, 9));
    if (verdict(other) !== verdict(r) && !stoppedEarly(r) && !stoppedEarly(other))
      return `in ${cuts.length + 1} pieces ${show(other)}, in 2 ${show(r)}`;
  }
  if (thorough || h % 64 === 0) {
    const real = await oracle(async () => probe(input, null, await loopback()));
    if (verdict(real) !== verdict(r) && !stoppedEarly(r) && !stoppedEarly(real))
      return `over a socket ${show(real)}, in memory ${show(r)}`;
  }
  return null;
}

function agentBody(rng: Rng): { body: string; agent?: Expect['agent'] } {
  if (rng.chance(0.3)) return { body: rng.pick(['ok', '', 'healthy\n', '<html></html>']) };
  const cpu = rng.chance(0.8) ? rng.int(10_000) / 100 : 150;
  const connections = rng.int(1000);
  const agent: Expect['agent'] = {};
  if (cpu <= 100) agent.cpu = cpu;
  agent.connections = connections;
  return { body: JSON.stringify({ cpu, connections, status: 'up' }), agent };
}

function structured(rng: Rng): { input: Buffer; expect: Expect } {
  const status = rng.chance(0.7) ? 200 : rng.pick([204, 301, 404, 500, 503, 299, 599]);
  const { body, agent } = agentBody(rng);
  const big = rng.chance(0.02);
  const payload = big ? body + ' '.repeat(AGENT_MAX_BODY + 1024) : body;
  const framing = rng.int(3);
  // chunked framing is HTTP/1.1's
  const minor = framing === 1 ? 1 : rng.int(2);
  const headers = [`HTTP/1.${minor} ${status} ${rng.pick(['OK', 'Fine', ''])}`, 'Content-Type: application/json'];
  let encoded: string;
  if (framing === 0) {
    headers.push(`Content-Length: ${Buffer.byteLength(payload)}`);
    encoded = payload;
  } else if (framing === 1) {
    headers.push('Transfer-Encoding: chunked');
    const mid = payload.length >> 1;
    const chunk = (s: string): string => (s.length ? `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n` : '');
    encoded = chunk(payload.slice(0, mid)) + chunk(payload.slice(mid)) + '0\r\n\r\n';
  } else {
    headers.push('Connection: close');
    encoded = payload;
  }
  const info = rng.chance(0.05) ? 'HTTP/1.1 100 Continue\r\n\r\n' : '';
  const input = Buffer.from(`${info}${headers.join('\r\n')}\r\n\r\n${encoded}`, 'latin1');
  const ok = status === 200;
  // a body over the limit, or one only the connection's close would end, is not
  // read: healthy by its status, without agent data
  const framed = framing !== 2;
  return { input, expect: ok && agent && framed && !big && Object.keys(agent).length > 0 ? { ok, agent } : { ok } };
}

export const healthHttpTarget: FuzzTarget<Expect> = {
  name: 'health-http',
  title: 'HTTP health responses',
  maxLength: 96 * 1024,
  dictionary: tokens([
    'HTTP/1.1 200 OK\r\n',
    'HTTP/1.0 ',
    '\r\n',
    '\r\n\r\n',
    'Content-Length: ',
    'Transfer-Encoding: chunked\r\n',
    '0\r\n\r\n',
    ': ',
    '{"cpu":',
    '}',
    '200',
    '100 Continue',
  ]),
  structured,
  random: (rng) => {
    const tail = rng.bytes(rng.size(400));
    return rng.chance(0.5) ? Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\n', 'latin1'), tail]) : tail;
  },
  check,
  close: () =>
    new Promise<void>((resolve) => {
      if (!server) return resolve();
      server.close(() => resolve());
      server = null;
    }),
};
