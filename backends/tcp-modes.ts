// Raw TCP modes of a simulated backend, one function per mode and connection:
//   echo    writes back what it reads (after the simulated latency, order kept)
//   sink    reads and discards, counting bytes; ends when the client ends
//   source  writes `sourceBytes` bytes (0 = until the client goes away), then ends
// errorRate resets a connection at its first byte; fault close drops it half way.
import type { Socket } from 'node:net';
import { burnCpu, type BackendContext } from './context.js';
import { isZeroLatency, sampleLatency } from './latency.js';

export type TcpMode = 'echo' | 'sink' | 'source';

const SOURCE_CHUNK = Buffer.alloc(64 * 1024, 'netmon-sim ');

function delayFor(ctx: BackendContext): number {
  const b = ctx.behaviour();
  let ms = isZeroLatency(b.latency) ? 0 : sampleLatency(b.latency, ctx.random);
  if (b.fault === 'slow') ms += sampleLatency(b.slowLatency, ctx.random);
  return ms;
}

export function serveEcho(ctx: BackendContext, socket: Socket): void {
  const failing = ctx.decideError();
  let queued = 0; // delayed writes not yet made
  let ended = false;
  const write = (chunk: Buffer): void => {
    ctx.counters.bytesOut += chunk.length;
    if (!socket.write(chunk)) {
      socket.pause();
      socket.once('drain', () => socket.resume());
    }
  };
  socket.on('data', (chunk: Buffer) => {
    ctx.counters.bytesIn += chunk.length;
    if (failing) {
      ctx.counters.errors++;
      socket.resetAndDestroy();
      return;
    }
    const b = ctx.behaviour();
    if (b.cpuBurnMs > 0) burnCpu(b.cpuBurnMs);
    if (b.fault === 'close') {
      socket.write(chunk.subarray(0, chunk.length >> 1), () => socket.destroy());
      return;
    }
    const delay = delayFor(ctx);
    if (delay <= 0 && queued === 0) {
      write(chunk);
      return;
    }
    // hold further reads until this chunk is written back, so the order is kept
    queued++;
    socket.pause();
    setTimeout(() => {
      queued--;
      if (socket.destroyed) return;
      write(chunk);
      if (queued === 0) {
        socket.resume();
        if (ended) socket.end();
      }
    }, delay);
  });
  socket.on('end', () => {
    ended = true;
    if (queued === 0) socket.end();
  });
}

export function serveSink(ctx: BackendContext, socket: Socket): void {
  const failing = ctx.decideError();
  socket.on('data', (chunk: Buffer) => {
    ctx.counters.bytesIn += chunk.length;
    if (failing) {
      ctx.counters.errors++;
      socket.resetAndDestroy();
    } else if (ctx.behaviour().fault === 'close') {
      socket.destroy();
    }
  });
  socket.on('end', () => socket.end());
}

export function serveSource(ctx: BackendContext, socket: Socket): void {
  // the client may send a request line or nothing at all: read and discard
  socket.on('data', (chunk: Buffer) => {
    ctx.counters.bytesIn += chunk.length;
  });
  socket.on('end', () => {
    // the client will read no more of what it did not ask to half-close
    if (!socket.writableEnded) socket.end();
  });
  const start = (): void => {
    if (socket.destroyed) return;
    if (ctx.decideError()) {
      ctx.counters.errors++;
      socket.resetAndDestroy();
      return;
    }
    const total = ctx.sourceBytes;
    const closeHalfway = ctx.behaviour().fault === 'close';
    const limit = closeHalfway ? Math.max(1, total > 0 ? total >> 1 : SOURCE_CHUNK.length) : total;
    let remaining = limit;
    const pump = (): void => {
      while (!socket.destroyed && (limit === 0 || remaining > 0)) {
        const n = limit === 0 ? SOURCE_CHUNK.length : Math.min(remaining, SOURCE_CHUNK.length);
        const chunk = n === SOURCE_CHUNK.length ? SOURCE_CHUNK : SOURCE_CHUNK.subarray(0, n);
        remaining -= n;
        ctx.counters.bytesOut += n;
        const more = socket.write(chunk);
        if (limit !== 0 && remaining <= 0) break;
        if (!more) {
          socket.once('drain', pump);
          return;
        }
      }
      if (socket.destroyed) return;
      if (closeHalfway) socket.write(Buffer.alloc(0), () => socket.destroy());
      else socket.end();
    };
    pump();
  };
  const delay = delayFor(ctx);
  if (delay > 0) setTimeout(start, delay);
  else start();
}
