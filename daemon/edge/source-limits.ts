// Per-source admission for one listener in one worker: concurrent connections
// and a connection-rate token bucket per client address (or prefix), in a
// table of bounded size where the least recently seen source is forgotten
// first, so a flood of distinct sources costs at most `tableSize` entries.
import type { SourceLimits } from '../config/schema.js';
import { formatV4, formatV6, parseIp } from './ip.js';

export interface SourceEntry {
  /** "10.1.2.3", or "10.1.2.0/24" when the prefix is shorter than the address */
  readonly key: string;
  family: 4 | 6;
  /** the masked address: one word for IPv4, four for IPv6 */
  readonly words: Uint32Array;
  prefix: number;
  active: number;
  /** connections admitted */
  connections: number;
  /** connections refused (ACL, rate, max connections) */
  rejected: number;
  tokens: number;
  /** ms (monotonic) of the last refill */
  refilledAt: number;
}

export type Admission = 'ok' | 'rate_limit' | 'max_connections';

/** How many least-recently-seen entries with open connections are skipped over before giving up on tracking a new one. */
const EVICT_TRIES = 8;

export class SourceTable {
  private readonly entries = new Map<string, SourceEntry>();
  private readonly word = new Uint32Array(4);
  /** set on every change: the worker republishes its top sources only when something moved */
  dirty = false;
  /** new sources not tracked because every candidate for eviction still had connections */
  untracked = 0;

  constructor(
    readonly limits: SourceLimits,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * The entry for a client address, created if new (and an old one evicted if
   * the table is full), and moved to the most recently seen end. Null when the
   * address is not an IP, or when the table is full of sources that still hold
   * connections (then the connection is admitted untracked, as HAProxy does when
   * its stick table is full: refusing would let one busy table deny everyone).
   */
  lookup(address: string): SourceEntry | null {
    const fam = parseIp(address, this.word);
    if (fam === 0) return null;
    const w = this.word;
    const prefix = fam === 4 ? this.limits.prefixV4 : this.limits.prefixV6;
    maskWords(w, fam, prefix);
    const text = fam === 4 ? formatV4(w[0]!) : formatV6(w);
    const full = fam === 4 ? 32 : 128;
    const key = prefix < full ? `${text}/${prefix}` : text;
    let e = this.entries.get(key);
    if (e !== undefined) {
      // Map keeps insertion order: re-inserting moves the entry to the recent end
      this.entries.delete(key);
      this.entries.set(key, e);
      return e;
    }
    if (this.entries.size >= this.limits.tableSize && !this.evictOne()) {
      this.untracked++;
      return null;
    }
    e = {
      key,
      family: fam,
      words: Uint32Array.from(fam === 4 ? [w[0]!] : w),
      prefix,
      active: 0,
      connections: 0,
      rejected: 0,
      tokens: this.limits.burst,
      refilledAt: this.now(),
    };
    this.entries.set(key, e);
    return e;
  }

  private evictOne(): boolean {
    let tries = 0;
    for (const [key, e] of this.entries) {
      if (e.active === 0) {
        this.entries.delete(key);
        return true;
      }
      // still in use: keep it, but look at it again only after everyone else
      this.entries.delete(key);
      this.entries.set(key, e);
      if (++tries >= EVICT_TRIES) return false;
    }
    return false;
  }

  /** Check the limits for a new connection from `e`; on 'ok' the connection is counted as open. */
  admit(e: SourceEntry): Admission {
    const l = this.limits;
    this.dirty = true;
    if (l.maxConnections > 0 && e.active >= l.maxConnections) {
      e.rejected++;
      return 'max_connections';
    }
    if (l.rate > 0) {
      const t = this.now();
      const tokens = Math.min(l.burst, e.tokens + ((t - e.refilledAt) * l.rate) / 1000);
      e.refilledAt = t;
      if (tokens < 1) {
        e.tokens = tokens;
        e.rejected++;
        return 'rate_limit';
      }
      e.tokens = tokens - 1;
    }
    e.active++;
    e.connections++;
    return 'ok';
  }

  /** A connection admitted by `admit` has closed. */
  release(e: SourceEntry): void {
    e.active--;
    this.dirty = true;
  }

  /** Count a rejection made elsewhere (ACL, PROXY header) against the source. */
  reject(e: SourceEntry): void {
    e.rejected++;
    this.dirty = true;
  }

  values(): IterableIterator<SourceEntry> {
    return this.entries.values();
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
