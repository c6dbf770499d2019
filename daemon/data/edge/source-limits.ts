// Per-source admission for one listener: concurrent connections and a
// connection-rate token bucket per client address (or prefix). The counts live
// in the shared per-source table (daemon/state/table.ts, found through
// source-index.ts), so a limit holds for the whole daemon whatever worker the
// kernel hands a connection to. One SourceLimiter per listener per worker and
// config generation; it only keeps scratch arrays, so a connection admitted
// under one generation is released through any.
import type { Config, EdgeConfig, SourceLimits } from '../../config/schema.js';
import { MAX_SOURCE_ENTRIES } from '../../state/layout.js';
import { SOURCE_FULL_BUCKET } from '../../state/sources.js';
import { SourceReject, type RejectReason } from '../../state/names.js';
import type { Table } from '../../state/table.js';
import { ipWords, type IpAddress } from '../../net/ip.js';
import { SourceIndex } from './source-index.js';

export type Admission = 'ok' | Extract<RejectReason, 'rate_limit' | 'max_connections'>;

/** Sources a listener with only allow/deny keeps (it records refused sources for `show clients`). */
const ACL_ONLY_ENTRIES = 4096;
/** Entries allocated even when no listener tracks sources, so a reload can add some. */
const MIN_SOURCE_ENTRIES = 1024;
/** Admissions that lose a race with a replacement of their entry look again this often. */
const ADMIT_ATTEMPTS = 4;

/** Whether a listener enforces per-source limits. */
export function hasLimits(l: SourceLimits): boolean {
  return l.maxConnections > 0 || l.rate > 0;
}

/** Entries a listener may hold in the shared table; 0 when it tracks no sources. */
export function sourceQuota(c: EdgeConfig): number {
  if (hasLimits(c.sourceLimits)) return c.sourceLimits.tableSize;
  if (c.allow.length > 0 || c.deny.length > 0) return Math.min(c.sourceLimits.tableSize, ACL_ONLY_ENTRIES);
  return 0;
}

/** Configured entries over all listeners (each listener's table_size). */
export function sourceDemand(config: Config): number {
  let want = 0;
  for (const l of config.listeners) want += sourceQuota(l.edge);
  return want;
}

/**
 * Entries of the shared table, fixed at start: one and a half times what the
 * listeners may hold (short probe windows need free room), a power of two,
 * bounded by MAX_SOURCE_ENTRIES.
 */
export function sourceTableEntries(config: Config): number {
  const n = Math.max(MIN_SOURCE_ENTRIES, Math.ceil(sourceDemand(config) * 1.5));
  let p = 1;
  while (p < n) p *= 2;
  return Math.min(MAX_SOURCE_ENTRIES, p);
}

/** Milliseconds since the table was created, as an int32, the same on every thread. */
export function sourceClock(table: Table): () => number {
  const origin = performance.timeOrigin - table.header.startTime();
  return () => (origin + performance.now()) | 0;
}

export interface SourceContext {
  table: Table;
  worker: number;
  listener: number;
  /** the source clock; sourceClock(table) unless a test drives time */
  now?: () => number;
}

export class SourceLimiter {
  /** after admit() answered 'ok': the entry now counting the connection, or -1 when untracked */
  entry = -1;
  readonly limited: boolean;
  private readonly table: Table;
  private readonly worker: number;
  private readonly listener: number;
  private readonly owner: number;
  private readonly quota: number;
  private readonly index: SourceIndex;
  private readonly now: () => number;
  private readonly maxConnections: number;
  private readonly rate: number;
  /** one token and a full bucket, in the table's fixed point */
  private readonly one: number;
  private readonly full: number;
  private readonly perMs: number;
  // scratch: an address's key is built here, never into a string or an object
  private readonly words = new Uint32Array(4);
  private readonly key = new Int32Array(5);

  constructor(
    readonly limits: SourceLimits,
    ctx: SourceContext,
    quota: number,
  ) {
    this.table = ctx.table;
    this.worker = ctx.worker;
    this.listener = ctx.listener;
    this.owner = ctx.table.sources.ownerWord(ctx.listener);
    this.quota = quota;
    this.index = new SourceIndex(ctx.table, ctx.worker);
    this.now = ctx.now ?? sourceClock(ctx.table);
    this.limited = hasLimits(limits);
    this.maxConnections = limits.maxConnections;
    this.rate = limits.rate;
    // a multiple of 1000, so that an integer rate refills a whole number of units per ms:
    // a token is then refilled exactly, not one unit short
    this.one = Math.floor(SOURCE_FULL_BUCKET / Math.max(1, limits.burst) / 1000) * 1000;
    this.full = this.one * Math.max(1, limits.burst);
    this.perMs = (limits.rate * this.one) / 1000;
  }

  /**
   * Check the limits for a new connection from `address`. On 'ok' the
   * connection is counted as open on `this.entry` (-1: untracked, when the
   * address is not an IP (null) or no entry could be had); release it on close.
   */
  admit(address: IpAddress | null): Admission {
    this.entry = -1;
    if (!this.parse(address)) return 'ok';
    const t = this.table;
    const w = this.worker;
    const now = this.now();
    for (let attempt = 0; attempt < ADMIT_ATTEMPTS; attempt++) {
      const i = this.index.find(this.owner, this.listener, this.key, this.quota, this.full, now);
      if (i < 0) return 'ok';
      t.sources.touch(i, now);
      const got = t.sources.acquire(w, i, this.maxConnections);
      if (got < 0) continue; // being replaced: look again
      if (t.sources.tag(i) !== this.index.tag) {
        // replaced between the lookup and the count: that count belongs to another source
        if (got === 1) t.sources.release(w, i);
        continue;
      }
      if (got === 0) {
        t.sources.countRejected(i, SourceReject.MaxConnections);
        return 'max_connections';
      }
      // the slot is taken before the token, so a refusal at max_connections costs no token
      if (this.rate > 0 && !t.sources.takeToken(i, now, this.perMs, this.one, this.full)) {
        t.sources.release(w, i);
        t.sources.countRejected(i, SourceReject.RateLimit);
        return 'rate_limit';
      }
      t.sources.countConnection(i);
      this.entry = i;
      return 'ok';
    }
    t.sources.countDegraded(this.listener);
    return 'ok';
  }

  /** Count a refusal made elsewhere (ACL, PROXY header) against the source. */
  reject(address: IpAddress | null): void {
    if (!this.parse(address)) return;
    const now = this.now();
    const i = this.index.find(this.owner, this.listener, this.key, this.quota, this.full, now);
    if (i < 0) return;
    this.table.sources.touch(i, now);
    this.table.sources.countRejected(i, SourceReject.Other);
  }

  /** A connection admitted on entry `i` (this.entry after admit) has closed. */
  release(i: number): void {
    this.table.sources.release(this.worker, i);
  }

  /** Address -> key words: family and prefix, then the masked address. False when not an IP. */
  private parse(address: IpAddress | null): boolean {
    if (address === null) return false;
    const w = this.words;
    const fam = address.family;
    ipWords(address, w);
    const prefix = fam === 4 ? this.limits.prefixV4 : this.limits.prefixV6;
    maskWords(w, fam, prefix);
    const k = this.key;
    k[0] = (fam << 8) | prefix;
    k[1] = w[0]! | 0;
    if (fam === 4) {
      k[2] = 0;
      k[3] = 0;
      k[4] = 0;
    } else {
      k[2] = w[1]! | 0;
      k[3] = w[2]! | 0;
      k[4] = w[3]! | 0;
    }
    return true;
  }
}

/** Zero the bits of `w` below `prefix`. */
function maskWords(w: Uint32Array, fam: 4 | 6, prefix: number): void {
  const n = fam === 4 ? 1 : 4;
  for (let k = 0; k < n; k++) {
    const bits = prefix - 32 * k;
    if (bits >= 32) continue;
    w[k] = bits <= 0 ? 0 : (w[k]! & (0xffffffff << (32 - bits))) >>> 0;
  }
}
