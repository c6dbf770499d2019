// A small shared region where each worker publishes its top sources (by
// rejections, then open connections) for `netmon ctl show clients`. The main
// thread reads and merges it synchronously, like the state table: no message
// round trip to every worker per command. This module is the only place that
// knows the region's layout.
//
// Per worker: a sequence number and an entry count (int32 each), then up to
// TOP_PER_WORKER entries of ENTRY_F64 float64s. A worker writes under a
// sequence lock (odd while writing); a reader retries on a torn copy.
import type { ClientStats } from '../control/context.js';
import { formatV4, formatV6 } from './ip.js';
import type { SourceEntry } from './source-limits.js';

export const TOP_PER_WORKER = 64;
const ENTRY_F64 = 10;
const E_FAMILY = 0;
const E_PREFIX = 1;
const E_WORDS = 2; // four words
const E_ACTIVE = 6;
const E_CONNECTIONS = 7;
const E_REJECTED = 8;
const READ_TRIES = 8;

function headerBytes(workers: number): number {
  return Math.ceil((workers * 2 * 4) / 8) * 8;
}

export function createClientsRegion(workers: number): SharedArrayBuffer {
  return new SharedArrayBuffer(headerBytes(workers) + workers * TOP_PER_WORKER * ENTRY_F64 * 8);
}

function views(buf: SharedArrayBuffer, workers: number): { i32: Int32Array; f64: Float64Array } {
  const h = headerBytes(workers);
  return { i32: new Int32Array(buf, 0, workers * 2), f64: new Float64Array(buf, h) };
}

/** One worker's writer. `workers` must match the region's size. */
export class ClientsPublisher {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;

  constructor(
    buf: SharedArrayBuffer,
    workers: number,
    private readonly worker: number,
  ) {
    const v = views(buf, workers);
    this.i32 = v.i32;
    this.f64 = v.f64;
  }

  /** Publish the worst sources among `sources` (any number of per-listener tables). */
  publish(sources: Iterable<SourceEntry>): void {
    const top = selectTop(sources, TOP_PER_WORKER);
    const seq = 2 * this.worker;
    Atomics.add(this.i32, seq, 1); // odd: writing
    const base = this.worker * TOP_PER_WORKER * ENTRY_F64;
    for (let i = 0; i < top.length; i++) {
      const e = top[i]!;
      const o = base + i * ENTRY_F64;
      this.f64[o + E_FAMILY] = e.family;
      this.f64[o + E_PREFIX] = e.prefix;
      for (let k = 0; k < 4; k++) this.f64[o + E_WORDS + k] = e.words[k] ?? 0;
      this.f64[o + E_ACTIVE] = e.active;
      this.f64[o + E_CONNECTIONS] = e.connections;
      this.f64[o + E_REJECTED] = e.rejected;
    }
    Atomics.store(this.i32, seq + 1, top.length);
    Atomics.add(this.i32, seq, 1); // even: done
  }
}

/** Order: most rejected first, then most open connections, then most connections. */
function worse(a: ClientLike, b: ClientLike): number {
  return b.rejected - a.rejected || b.active - a.active || b.connections - a.connections;
}

interface ClientLike {
  active: number;
  connections: number;
  rejected: number;
}

/** The `k` worst entries, without sorting the whole table. */
function selectTop<T extends ClientLike>(items: Iterable<T>, k: number): T[] {
  const top: T[] = [];
  if (k <= 0) return top;
  for (const e of items) {
    if (top.length === k && worse(e, top[k - 1]!) >= 0) continue;
    let i = top.length < k ? top.length : k - 1;
    while (i > 0 && worse(e, top[i - 1]!) < 0) {
      if (i < k) top[i] = top[i - 1]!;
      i--;
    }
    top[i] = e;
  }
  return top;
}

/**
 * Merge every worker's published sources (the same source seen by several
 * workers, or on several listeners, is summed) and return the `limit` worst.
 */
export function readClients(buf: SharedArrayBuffer, workers: number, limit: number): ClientStats[] {
  const { i32, f64 } = views(buf, workers);
  const merged = new Map<string, ClientStats>();
  const copy = new Float64Array(TOP_PER_WORKER * ENTRY_F64);
  for (let w = 0; w < workers; w++) {
    let n = 0;
    for (let tries = 0; tries < READ_TRIES; tries++) {
      const s1 = Atomics.load(i32, 2 * w);
      if ((s1 & 1) === 1) continue;
      n = Atomics.load(i32, 2 * w + 1);
      const base = w * TOP_PER_WORKER * ENTRY_F64;
      copy.set(f64.subarray(base, base + n * ENTRY_F64));
      if (Atomics.load(i32, 2 * w) === s1) break;
      n = 0;
    }
    for (let i = 0; i < n; i++) {
      const o = i * ENTRY_F64;
      const address = entryText(copy, o);
      const prev = merged.get(address);
      const active = copy[o + E_ACTIVE]!;
      const connections = copy[o + E_CONNECTIONS]!;
      const rejected = copy[o + E_REJECTED]!;
      if (prev) {
        prev.active += active;
        prev.connections += connections;
        prev.rejected += rejected;
      } else {
        merged.set(address, { address, active, connections, rejected });
      }
    }
  }
  return selectTop(merged.values(), Math.max(0, limit));
}

function entryText(f: Float64Array, o: number): string {
  const fam = f[o + E_FAMILY];
  const prefix = f[o + E_PREFIX]!;
  if (fam === 4) {
    const t = formatV4(f[o + E_WORDS]!);
    return prefix < 32 ? `${t}/${prefix}` : t;
  }
  const t = formatV6([f[o + E_WORDS]!, f[o + E_WORDS + 1]!, f[o + E_WORDS + 2]!, f[o + E_WORDS + 3]!]);
  return prefix < 128 ? `${t}/${prefix}` : t;
}
