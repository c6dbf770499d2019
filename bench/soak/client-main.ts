// A soak load process: short echo connections or held streams against the
// daemon, each connection judged ok, failed (error) or truncated (a clean FIN
// before the whole echo). Told what to do and when to stop over IPC (load.ts).
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { FromLoad, LoadResult, LoadSpec, ToLoad } from './load.js';

const MAX_LOST_TIMES = 10_000;

const result: LoadResult = { ok: 0, failed: 0, truncated: 0, codes: {}, lostAt: [], established: 0, ms: 0 };
let stopping = false;
let t0 = 0;
/** tells every held stream to finish */
const stopSignal = new EventEmitter().setMaxListeners(0);

function lost(code: string | null, startedAt: number): void {
  if (code === null) result.truncated++;
  else {
    result.failed++;
    result.codes[code] = (result.codes[code] ?? 0) + 1;
  }
  if (result.lostAt.length < MAX_LOST_TIMES) result.lostAt.push(startedAt);
}

/** 127.x.y.z for source i: 127.1.0.0 upwards, never 127.0.0.1 */
function source(i: number): string {
  return `127.${1 + ((i >> 16) & 0xff)}.${(i >> 8) & 0xff}.${i & 0xff}`;
}

function short(spec: LoadSpec, i: number): Promise<void> {
  return new Promise((resolve) => {
    const startedAt = Date.now();
    const opts: net.NetConnectOpts = { host: '127.0.0.1', port: spec.port, allowHalfOpen: true };
    if (spec.sources > 0) opts.localAddress = source(i % spec.sources);
    const s = net.connect(opts);
    let got = 0;
    let code: string | null = null;
    s.on('connect', () => s.end(Buffer.alloc(spec.payload, 0x61)));
    s.on('data', (d: Buffer) => (got += d.length));
    s.on('end', () => s.end());
    s.on('error', (e: NodeJS.ErrnoException) => (code ??= e.code ?? 'ERROR'));
    s.setTimeout(spec.timeoutMs, () => {
      code ??= 'TIMEOUT';
      s.destroy();
    });
    s.on('close', () => {
      if (code === null && got === spec.payload) result.ok++;
      else lost(code, startedAt);
      resolve();
    });
  });
}

async function shorts(spec: LoadSpec): Promise<void> {
  let issued = 0;
  const loop = async (): Promise<void> => {
    while (!stopping && (spec.count === 0 || issued < spec.count)) await short(spec, issued++);
  };
  await Promise.all(Array.from({ length: spec.concurrency }, loop));
}

/** One held stream; resolves when it has ended (cleanly after stop, or lost). */
function stream(spec: LoadSpec, onOpen: () => void): Promise<void> {
  return new Promise((resolve) => {
    const startedAt = Date.now();
    const s = net.connect({ host: '127.0.0.1', port: spec.port, allowHalfOpen: true });
    const line = 'ping 0123456789abcdef\n';
    let pending = 0;
    let code: string | null = null;
    let timer: NodeJS.Timeout | null = null;
    let waitingSince = 0;
    const tick = (): void => {
      if (stopping) return;
      if (pending > 0 && Date.now() - waitingSince > spec.timeoutMs) {
        code ??= 'STALLED';
        s.destroy();
        return;
      }
      if (pending === 0) waitingSince = Date.now();
      pending += line.length;
      s.write(line);
    };
    s.on('connect', () => {
      onOpen();
      tick();
      timer = setInterval(tick, spec.intervalMs);
    });
    s.on('data', (d: Buffer) => {
      pending = Math.max(0, pending - d.length);
      if (pending === 0 && stopping) s.end();
    });
    s.on('error', (e: NodeJS.ErrnoException) => (code ??= e.code ?? 'ERROR'));
    s.on('end', () => {
      // the daemon or backend ended the stream: complete only if we asked
      if (!stopping && code === null) code = 'EARLY_FIN';
      s.end();
    });
    let giveUp: NodeJS.Timeout | null = null;
    const stop = (): void => {
      if (pending === 0) s.end();
      // an echo that never comes (a stopped backend) must not hold the load open
      giveUp = setTimeout(() => {
        code ??= 'STALLED';
        s.destroy();
      }, spec.timeoutMs);
    };
    stopSignal.once('stop', stop);
    s.on('close', () => {
      if (timer) clearInterval(timer);
      if (giveUp) clearTimeout(giveUp);
      stopSignal.off('stop', stop);
      if (code === null) result.ok++;
      else lost(code === 'EARLY_FIN' ? null : code, startedAt);
      resolve();
    });
  });
}

async function streams(spec: LoadSpec): Promise<void> {
  let opened = 0;
  let settled = 0;
  const all: Promise<void>[] = [];
  await new Promise<void>((ready) => {
    const check = (): void => {
      if (opened + settled >= spec.concurrency) ready();
    };
    for (let i = 0; i < spec.concurrency; i++) {
      all.push(
        stream(spec, () => {
          opened++;
          result.established = Math.max(result.established, opened);
          check();
        }).then(() => {
          settled++;
          check();
        }),
      );
    }
  });
  process.send?.({ type: 'ready', established: opened } satisfies FromLoad);
  await Promise.all(all);
}

process.on('message', (m: ToLoad) => {
  if (m.type === 'stop') {
    stopping = true;
    stopSignal.emit('stop');
    return;
  }
  t0 = performance.now();
  const run = m.spec.mode === 'short' ? shorts(m.spec) : streams(m.spec);
  if (m.spec.mode === 'short') process.send?.({ type: 'ready', established: 0 } satisfies FromLoad);
  void run.then(() => {
    result.ms = Math.round(performance.now() - t0);
    process.send?.({ type: 'result', result } satisfies FromLoad, () => process.exit(0));
  });
});
process.on('disconnect', () => process.exit(0));
