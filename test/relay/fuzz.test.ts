// The relays under random peers, with the same inputs on every relay path: a
// seeded generator draws, per connection, what the client and the backend do
// (random bytes in random chunks, FIN, reset, stop reading, close at once) and
// when. No input may crash the daemon or leak a connection: every connection
// ends, everything held is given back, and a clean client is served after.
// `make fuzz` runs it longer on both relays (NETMON_RELAY_FUZZ connections,
// NETMON_RELAY_FUZZ_SEED, NETMON_RELAY_FUZZ_AT_ONCE at once); `make asan` on the
// native relay built with AddressSanitizer.
import { test } from 'node:test';
import net from 'node:net';
import { assert, RELAY_PATHS, allClosed, connect, server, startRelay } from './harness.js';

const CONNECTIONS = Number(process.env['NETMON_RELAY_FUZZ'] ?? 120);
const SEED = Number(process.env['NETMON_RELAY_FUZZ_SEED'] ?? 7);
/** connections played at once (`make fuzz` runs more at once to fit more connections in its time) */
const AT_ONCE = Number(process.env['NETMON_RELAY_FUZZ_AT_ONCE'] ?? 16);

/** xorshift32: the same numbers for the same seed on every path */
function generator(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

type Ending = 'fin' | 'reset' | 'close' | 'stall';

interface Plan {
  /** chunk sizes the peer writes, with a delay (ms) before each */
  chunks: { size: number; delay: number }[];
  ending: Ending;
  /** stop reading after this many bytes (Infinity: read everything) */
  readLimit: number;
}

function plan(random: () => number): Plan {
  const n = Math.floor(random() * 6);
  const chunks = Array.from({ length: n }, () => ({
    size: Math.floor(random() ** 3 * 256 * 1024),
    delay: random() < 0.3 ? Math.floor(random() * 30) : 0,
  }));
  const endings: Ending[] = ['fin', 'fin', 'reset', 'close', 'stall'];
  return {
    chunks,
    ending: endings[Math.floor(random() * endings.length)]!,
    readLimit: random() < 0.2 ? Math.floor(random() * 64 * 1024) : Infinity,
  };
}

/** Plays `p` on socket `s`; resolves when the socket is closed (or after `maxMs`). */
function play(s: net.Socket, p: Plan, random: () => number, maxMs: number): Promise<void> {
  return new Promise((resolve) => {
    let read = 0;
    const done = setTimeout(() => {
      s.destroy();
      resolve();
    }, maxMs);
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(done);
      resolve();
    });
    s.on('data', (d: Buffer) => {
      read += d.length;
      if (read > p.readLimit) s.pause();
    });
    // a FIN is answered with a FIN once the plan is played (a stalled peer too: it stalls its writes)
    s.on('end', () => s.end());
    void (async () => {
      for (const c of p.chunks) {
        if (c.delay > 0) await new Promise((r) => setTimeout(r, c.delay));
        if (s.destroyed) return;
        const b = Buffer.allocUnsafe(c.size);
        for (let i = 0; i < b.length; i += 64) b[i] = Math.floor(random() * 256);
        s.write(b);
      }
      if (s.destroyed) return;
      if (p.ending === 'fin') s.end();
      else if (p.ending === 'reset') s.resetAndDestroy();
      else if (p.ending === 'close') s.destroy();
      // stall: nothing more; the idle timeout (or the other side) ends it
    })();
  });
}

for (const path of RELAY_PATHS) {
  test(`${path}: ${CONNECTIONS} connections of random peers (seed ${SEED}): no crash, nothing leaked, still serving`, async () => {
    const backendRandom = generator(SEED * 31 + 1);
    // after the fuzz the backend echoes: a random plan (a close before any byte, then no backend left to
    // retry on) would reset the clean client below, rightly
    let fuzzing = true;
    const backend = await server((s) => {
      if (fuzzing) return void play(s, plan(backendRandom), backendRandom, 4000);
      s.on('error', () => {});
      s.pipe(s);
    });
    const r = await startRelay(path, [{ name: 'b', port: backend.port }], { idle: '500ms' });
    try {
      const random = generator(SEED);
      for (let i = 0; i < CONNECTIONS; i += AT_ONCE) {
        await Promise.all(
          Array.from({ length: Math.min(AT_ONCE, CONNECTIONS - i) }, async () => {
            const p = plan(random);
            const s = net.connect({ host: '127.0.0.1', port: r.port, allowHalfOpen: true });
            await play(s, p, random, 4000);
          }),
        );
      }
      await allClosed(r.d, 'every fuzzed connection closed');
      // the workers lived through it and still serve
      assert.ok(r.d.daemon.snapshot().workers.every((w) => w.alive && w.starts === 1));
      fuzzing = false;
      const c = await connect(r.port);
      const echoed = new Promise<string>((res) => c.once('data', (d: Buffer) => res(d.toString())));
      c.write('still serving');
      assert.equal(await echoed, 'still serving');
      c.destroy();
    } finally {
      await r.stop();
      await backend.close();
    }
  });
}
