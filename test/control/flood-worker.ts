// Worker threads for the responsiveness tests, so that none of the clients' own
// work lands on the main thread the test measures: a 'flood' worker runs one
// scenario against the control socket and posts a FloodResult; a 'healthz'
// worker polls the daemon's /healthz (as a prober would) until told to stop,
// then posts its HealthzResult.
import http from 'node:http';
import net from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { request } from '../../daemon/control/socket/client.js';

export type FloodScenario =
  /** one write of `bytes` of LF, then `show info` on the same connection */
  | { kind: 'empty-lines'; bytes: number }
  /** `clients` connections, each writing `lines` JSON `show-stats` requests at once and reading every reply */
  | { kind: 'pipelined'; clients: number; lines: number }
  /** `clients` connections that send nothing, then one `netmon ctl` request (show-info) */
  | { kind: 'silent'; clients: number };

export type WorkerInit = { role: 'flood'; socket: string; scenario: FloodScenario } | { role: 'healthz'; port: number };

export interface FloodResult {
  /** what the scenario checked, e.g. "show info answered" */
  ok: boolean;
  detail: string;
  /** ms from the start of the flood to the end of the scenario */
  elapsedMs: number;
}

export interface HealthzResult {
  /** ms of each answer, in order */
  latencies: number[];
  failures: number;
}

const init = workerData as WorkerInit;

/** One GET /healthz on a fresh connection, as a prober would; resolves with ms, rejects on failure. */
function healthz(port: number): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error('status'))));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Connects; a full accept queue (EAGAIN, the daemon's thread busy) is tried again every 50 ms, as netmon ctl does. */
function connect(path: string, deadline = Date.now() + 5000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ path });
    s.once('connect', () => resolve(s));
    s.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EAGAIN' || Date.now() >= deadline) return reject(e);
      setTimeout(() => connect(path, deadline).then(resolve, reject), 50);
    });
  });
}

/** Reads from `s` until `done(text)` or the connection closes; resolves with the text. */
function readUntil(s: net.Socket, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      text += d;
      if (done(text)) resolve(text);
    });
    s.on('close', () => resolve(text));
    s.on('error', () => {});
  });
}

async function emptyLines(socket: string, bytes: number): Promise<[boolean, string]> {
  const s = await connect(socket);
  const reply = readUntil(s, (t) => t.endsWith('\n\n'));
  s.write(Buffer.concat([Buffer.alloc(bytes, 0x0a), Buffer.from('show info\n')]));
  const text = await reply;
  s.destroy();
  return [/^Name:\s+netmon/.test(text), `reply to show info after ${bytes} bytes of LF: ${text.slice(0, 40)}`];
}

async function pipelined(socket: string, clients: number, lines: number): Promise<[boolean, string]> {
  const one = async (): Promise<string | null> => {
    const s = await connect(socket);
    const reqs = Array.from({ length: lines }, (_, i) => JSON.stringify({ id: i, cmd: 'show-stats' }) + '\n');
    let seen = 0;
    let counted = 0;
    const reply = readUntil(s, (t) => {
      for (let at = t.indexOf('\n', counted); at !== -1; at = t.indexOf('\n', at + 1)) seen++;
      counted = t.length;
      return seen >= lines;
    });
    s.write(reqs.join(''));
    const got = (await reply).split('\n').slice(0, lines);
    s.destroy();
    for (let i = 0; i < lines; i++) {
      const r = JSON.parse(got[i] ?? 'null') as { id: number; ok: boolean } | null;
      if (r?.id !== i || !r.ok) return `reply ${i} of ${lines}: ${(got[i] ?? '(none)').slice(0, 60)}`;
    }
    return null;
  };
  const problems = (await Promise.all(Array.from({ length: clients }, one))).filter((p) => p !== null);
  return [problems.length === 0, problems[0] ?? `${clients} x ${lines} replies, in order`];
}

async function silent(socket: string, clients: number): Promise<[boolean, string]> {
  const held: net.Socket[] = [];
  try {
    for (let i = 0; i < clients; i++) {
      const s = await connect(socket);
      s.on('error', () => {});
      held.push(s);
    }
    const t0 = performance.now();
    const info = (await request(socket, 'show-info', {}, { timeoutMs: 5000 })) as { version?: string };
    const open = held.filter((s) => !s.destroyed && s.readyState === 'open').length;
    return [
      typeof info.version === 'string',
      `netmon ctl answered in ${(performance.now() - t0).toFixed(0)} ms with ${open} silent clients still open`,
    ];
  } catch (err) {
    return [false, `netmon ctl failed: ${String(err)}`];
  } finally {
    for (const s of held) s.destroy();
  }
}

async function flood(socket: string, sc: FloodScenario): Promise<void> {
  const t0 = performance.now();
  const [ok, detail] =
    sc.kind === 'empty-lines'
      ? await emptyLines(socket, sc.bytes)
      : sc.kind === 'pipelined'
        ? await pipelined(socket, sc.clients, sc.lines)
        : await silent(socket, sc.clients);
  const result: FloodResult = { ok, detail, elapsedMs: performance.now() - t0 };
  parentPort!.postMessage(result);
}

async function pollHealthz(port: number): Promise<void> {
  const result: HealthzResult = { latencies: [], failures: 0 };
  let polling = true;
  parentPort!.once('message', () => (polling = false));
  while (polling) {
    try {
      result.latencies.push(await healthz(port));
      // the first answer says the prober is warm: the flood may start
      if (result.latencies.length === 1) parentPort!.postMessage('ready');
    } catch {
      result.failures++;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  parentPort!.postMessage(result);
}

if (init.role === 'flood') void flood(init.socket, init.scenario);
else void pollHealthz(init.port);
