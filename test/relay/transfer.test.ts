// Bytes through the relay, on every relay path: a checksum both ways through a
// slow reader, the bound a reader that stops puts on what the relay takes from
// the backend, and exact byte accounting over many connections at once.
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import { assert, RELAY_PATHS, allClosed, connect, counters, pattern, server, sha256, startRelay } from './harness.js';

const MiB = 1024 * 1024;
/** 64 MiB in `make test`; `make soak-relay` sends 1 GiB (NETMON_RELAY_TRANSFER_MIB=1024) */
const TRANSFER_MIB = Number(process.env['NETMON_RELAY_TRANSFER_MIB'] ?? 64);

/** The echo backend: every byte back, FIN for FIN. */
function echo(): ReturnType<typeof server> {
  return server((s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
}

for (const path of RELAY_PATHS) {
  test(`${path}: ${TRANSFER_MIB} MiB each way, checksummed, through a reader that starts slow; every byte counted once`, async () => {
    const backend = await echo();
    const r = await startRelay(path, [{ name: 'echo', port: backend.port }]);
    try {
      const size = TRANSFER_MIB * MiB;
      // 8 MiB blocks, each its own pattern, hashed as they are sent and received (1 GiB is never held)
      let cached: { i: number; data: Buffer } = { i: -1, data: Buffer.alloc(0) };
      const block = (i: number): Buffer => {
        if (cached.i !== i) cached = { i, data: pattern(8 * MiB, 1000 + i) };
        return cached.data;
      };
      const sentHash = createHash('sha256');
      const gotHash = createHash('sha256');
      const c = await connect(r.port);
      let n = 0;
      const done = new Promise<void>((resolve, reject) => {
        c.on('data', (chunk: Buffer) => {
          gotHash.update(chunk);
          n += chunk.length;
          // the first 8 MiB are read a chunk per timer tick: the relay must hold the backend back
          if (n < 8 * MiB) {
            c.pause();
            setTimeout(() => c.resume(), 1);
          }
        });
        c.on('end', () => resolve());
        c.on('error', reject);
      });
      // in uneven writes, so chunk boundaries differ from the relay's reads
      for (let off = 0, k = 0; off < size; k++) {
        const len = Math.min(size - off, 1 + ((k * 7919) % (700 * 1024)));
        // a write never spans two blocks
        const b = Math.floor(off / (8 * MiB));
        const at = off - b * 8 * MiB;
        const piece = block(b).subarray(at, Math.min(at + len, 8 * MiB));
        sentHash.update(piece);
        if (!c.write(piece)) await new Promise((res) => c.once('drain', res));
        off += piece.length;
      }
      c.end();
      await done;
      assert.equal(n, size);
      assert.equal(gotHash.digest('hex'), sentHash.digest('hex'));
      await allClosed(r.d);
      assert.deepEqual(counters(r.d), { listenerIn: size, listenerOut: size, backendIn: size, backendOut: size });
    } finally {
      await r.stop();
      await backend.close();
    }
  });

  test(`${path}: a client that stops reading holds the backend back (the relay takes a bounded amount)`, async () => {
    const size = 128 * MiB;
    const sent = pattern(size, 2);
    // the backend writes as fast as its socket takes it, then ends
    const backend = await server((s) => {
      s.on('error', () => {});
      let off = 0;
      const more = (): void => {
        while (off < size) {
          const end = Math.min(size, off + 256 * 1024);
          const ok = s.write(sent.subarray(off, end));
          off = end;
          if (!ok) return void s.once('drain', more);
        }
        s.end();
      };
      more();
    });
    const r = await startRelay(path, [{ name: 'source', port: backend.port }]);
    try {
      const c = await connect(r.port);
      c.pause();
      // wait until the relay has stopped taking bytes from the backend (three equal readings)
      let last = -1;
      let same = 0;
      const deadline = Date.now() + 15_000;
      while (same < 3 && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 100));
        const now = counters(r.d).backendOut;
        same = now === last && now > 0 ? same + 1 : 0;
        last = now;
      }
      assert.equal(same, 3, 'the relay kept reading from the backend');
      assert.ok(last < 32 * MiB, `the relay took ${last} bytes for a client that reads nothing`);
      const got: Buffer[] = [];
      let n = 0;
      await new Promise<void>((resolve, reject) => {
        c.on('data', (chunk: Buffer) => {
          got.push(chunk);
          n += chunk.length;
        });
        c.on('end', () => resolve());
        c.on('error', reject);
        c.resume();
      });
      c.end();
      assert.equal(n, size);
      assert.equal(sha256(...got), sha256(sent));
      await allClosed(r.d);
      assert.deepEqual(counters(r.d), { listenerIn: 0, listenerOut: size, backendIn: 0, backendOut: size });
    } finally {
      await r.stop();
      await backend.close();
    }
  });

  test(`${path}: 120 connections at once, each its own size and chunking: bytes counted exactly per listener and backend`, async () => {
    const b1 = await echo();
    const b2 = await echo();
    const r = await startRelay(path, [
      { name: 'e1', port: b1.port },
      { name: 'e2', port: b2.port },
    ]);
    try {
      let total = 0;
      const one = async (i: number): Promise<void> => {
        const size = (i * 104_729) % 300_000;
        total += size;
        const data = pattern(size, 100 + i);
        const c = await connect(r.port);
        const got: Buffer[] = [];
        const done = new Promise<void>((resolve, reject) => {
          c.on('data', (chunk: Buffer) => got.push(chunk));
          c.on('end', () => resolve());
          c.on('error', reject);
        });
        const step = 1 + (i % 17) * 3001;
        for (let off = 0; off < size; off += step) c.write(data.subarray(off, off + step));
        c.end();
        await done;
        assert.equal(sha256(...got), sha256(data), `connection ${i}`);
      };
      await Promise.all(Array.from({ length: 120 }, (_, i) => one(i)));
      await allClosed(r.d);
      assert.deepEqual(counters(r.d), { listenerIn: total, listenerOut: total, backendIn: total, backendOut: total });
      const s = r.d.daemon.snapshot();
      assert.equal(
        s.backends.reduce((a, b) => a + b.connections, 0),
        120,
      );
    } finally {
      await r.stop();
      await b1.close();
      await b2.close();
    }
  });
}
