// A pool on a simulated clock: `clients` closed-loop clients pick a backend, hold
// a connection to it for its response time, record the connect and first-byte
// samples in the table's histograms as the relay does, release, and pick again.
// No threads, sockets or sleeps: the algorithm sees exactly what it would see
// in a worker, on an injected clock.
import { Histogram } from '../../daemon/state/names.js';
import type { Bench } from './harness.js';

export interface SimOptions {
  clients: number;
  /** ms of simulated time to run from `start` */
  durationMs: number;
  /** ms of simulated time the run starts at (default 0) */
  start?: number;
  /** response time (ms) of `slot` for a connection picked at `now` */
  latency(slot: number, now: number): number;
  /** ms a client waits between one response and its next pick (default 0) */
  thinkMs?: number;
  random: () => number;
  /** called every `tickMs` of simulated time (the main thread's tick), before the events due then */
  onTick?: (now: number) => void;
  tickMs?: number;
}

export interface SimPick {
  time: number;
  slot: number;
}

/** Runs the clients; returns every pick in time order. */
export function simulate(b: Bench, o: SimOptions): SimPick[] {
  const start = o.start ?? 0;
  const end = start + o.durationMs;
  const think = o.thinkMs ?? 0;
  // each client's next event: a pick (slot < 0) or the end of its connection to slot
  const next = Array.from({ length: o.clients }, (_, i) => ({ time: start + i * 0.01, slot: -1, began: 0 }));
  const picks: SimPick[] = [];
  const tickMs = o.tickMs ?? 1000;
  let tick = start;
  for (;;) {
    let c = next[0]!;
    for (const x of next) if (x.time < c.time) c = x;
    if (c.time >= end) break;
    const now = c.time;
    while (o.onTick && tick <= now) {
      o.onTick(tick);
      tick += tickMs;
    }
    if (c.slot < 0) {
      const slot = b.balancer.pick({ clientAddress: '127.0.0.1', avoid: [], now, random: o.random, retry: false });
      if (slot < 0) throw new Error(`no pick at ${now} ms`);
      b.table.backends.acquire(0, slot);
      picks.push({ time: now, slot });
      c.slot = slot;
      c.began = now;
      c.time = now + Math.max(0.01, o.latency(slot, now));
    } else {
      const ms = now - c.began;
      // recorded as the relay records them: connect is a small part of the time, and
      // first byte counts from the connect's start
      const connect = Math.min(ms, 0.1);
      b.table.backendStats.countConnection(0, c.slot);
      b.table.backends.updateEwmaConnect(c.slot, connect);
      b.table.backendStats.observe(0, c.slot, Histogram.Connect, connect / 1000);
      b.table.backends.updateEwmaFirstByte(c.slot, ms);
      b.table.backendStats.observe(0, c.slot, Histogram.FirstByte, ms / 1000);
      b.table.backends.release(0, c.slot);
      c.slot = -1;
      c.time = now + think;
    }
  }
  return picks;
}

/** Picks per member key within [from, to) ms. */
export function sharesBetween(b: Bench, picks: readonly SimPick[], from: number, to: number): Map<string, number> {
  const counts = new Map<string, number>(b.members.map((m) => [m.key, 0]));
  for (const p of picks) {
    if (p.time < from || p.time >= to) continue;
    const k = b.keyOf(p.slot);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}
