// The per-source region: one entry per tracked client source (address masked to
// a prefix), shared by all workers, so per-source limits hold for the whole
// daemon. The hash index and its claim protocol are in
// daemon/data/edge/source-index.ts; here, each field and the atomic step that
// changes it.
import { type Layout } from './layout.js';
import { KEY_WORDS, SOURCE_REJECTS, SourceEntry, SourceListenerI32 } from './fields.js';
import type { SourceReject } from './names.js';

const TAG_WRITER = 0xff;
/** the writer id of the main thread (workers are 1..64) */
const MAIN_WRITER = 0xff;
const TAG_VERSION = 0x100;
/** SourceEntry.Active while an entry is being replaced: admission sees a negative count and looks again */
const SOURCE_LOCKED = -0x80000000;
/** SourceEntry.Owner of an entry never written */
export const SOURCE_EMPTY = 0;
/** an entry whose writer died mid-rewrite: matches no key, replaced before any other */
const SOURCE_DEAD = -1;
/** a full token bucket, in fixed point: burst * one <= 2^30 keeps every value an int32 */
export const SOURCE_FULL_BUCKET = 0x40000000;
/** a refill time further back than this (ms) is taken as a long-idle source (the ms clock wraps after 24.8 days) */
const SOURCE_STALE_MS = 60_000;

/** One entry as the main thread reads it (for `show clients`). */
export interface SourceRecord {
  owner: number;
  family: 4 | 6;
  /** prefix length, bits */
  prefix: number;
  /** the masked address, uint32 words (IPv4: one word, three zeros) */
  words: [number, number, number, number];
  active: number;
  connections: number;
  rejected: number;
}

export interface SourceListenerStats {
  /** entries held, against table_size */
  entries: number;
  /** entries replaced by a new source */
  evictions: number;
  /** connections admitted untracked because no entry could be claimed */
  degraded: number;
}

/** The listener slot an owner word names (-1 for an empty or dead entry). */
export function sourceOwnerListener(owner: number): number {
  return owner === SOURCE_EMPTY || owner === SOURCE_DEAD ? -1 : (owner & 0x7ff) - 1;
}
/** Whether a tag is stable (no rewrite in progress). */
export function sourceTagStable(tag: number): boolean {
  return (tag & TAG_WRITER) === 0;
}

export class SourcesView {
  /** per-source entries; 0 when no listener tracks sources */
  readonly capacity: number;

  constructor(
    private readonly src: Int32Array,
    private readonly at: Layout,
  ) {
    this.capacity = at.sources;
  }

  /** The owner word entries of this listener carry: its slot and the slot's epoch. */
  ownerWord(listener: number): number {
    return (
      (Atomics.load(this.src, this.at.sourceListener(listener) + SourceListenerI32.Epoch) << 11) | (listener + 1) | 0
    );
  }
  tag(i: number): number {
    return Atomics.load(this.src, this.at.sourceEntry(i) + SourceEntry.Tag);
  }
  /** Take the right to rewrite entry `i`, seen stable as `tag`; true when this worker now holds it. */
  claim(worker: number, i: number, tag: number): boolean {
    return (
      Atomics.compareExchange(this.src, this.at.sourceEntry(i) + SourceEntry.Tag, tag, tag | (worker + 1) | 0) === tag
    );
  }
  /** Give up a claim without change: readers see the entry as it was. */
  unclaim(i: number, tag: number): void {
    const at = this.at.sourceEntry(i) + SourceEntry.Tag;
    Atomics.store(this.src, at, tag);
    Atomics.notify(this.src, at);
  }
  /** End a rewrite: a new version, so a reader that saw the old tag looks again. Returns it. */
  publish(i: number, tag: number): number {
    const at = this.at.sourceEntry(i) + SourceEntry.Tag;
    const next = ((tag & ~TAG_WRITER) + TAG_VERSION) | 0;
    Atomics.store(this.src, at, next);
    // wakes workers waiting in waitTag(); costs little with no one waiting, and runs once per new source
    Atomics.notify(this.src, at);
    return next;
  }
  /** Take the eviction lock of the window starting at `i`; false when another worker holds it. */
  lockWindow(worker: number, i: number): boolean {
    return Atomics.compareExchange(this.src, this.at.sourceEntry(i) + SourceEntry.Lock, 0, worker + 1) === 0;
  }
  windowLocked(i: number): boolean {
    return Atomics.load(this.src, this.at.sourceEntry(i) + SourceEntry.Lock) !== 0;
  }
  unlockWindow(i: number): void {
    const at = this.at.sourceEntry(i) + SourceEntry.Lock;
    Atomics.store(this.src, at, 0);
    Atomics.notify(this.src, at);
  }
  /**
   * Sleep up to `ms` while entry `i`'s tag is still `tag` (a rewrite by another
   * worker): the CPU goes to that worker if it was preempted mid-rewrite.
   */
  waitTag(i: number, tag: number, ms: number): void {
    Atomics.wait(this.src, this.at.sourceEntry(i) + SourceEntry.Tag, tag, ms);
  }
  /** Sleep up to `ms` while the window lock at `i` is held. */
  waitWindow(i: number, ms: number): void {
    const at = this.at.sourceEntry(i) + SourceEntry.Lock;
    const holder = Atomics.load(this.src, at);
    if (holder !== 0) Atomics.wait(this.src, at, holder, ms);
  }
  owner(i: number): number {
    return Atomics.load(this.src, this.at.sourceEntry(i) + SourceEntry.Owner);
  }
  /** Whether entry `i` holds `key` ([family << 8 | prefix, four address words]) for `owner`. */
  keyIs(i: number, owner: number, key: Int32Array): boolean {
    const e = this.at.sourceEntry(i);
    const s = this.src;
    return (
      Atomics.load(s, e + SourceEntry.Owner) === owner &&
      Atomics.load(s, e + SourceEntry.Key) === key[0] &&
      Atomics.load(s, e + SourceEntry.Key + 1) === key[1] &&
      Atomics.load(s, e + SourceEntry.Key + 2) === key[2] &&
      Atomics.load(s, e + SourceEntry.Key + 3) === key[3] &&
      Atomics.load(s, e + SourceEntry.Key + 4) === key[4]
    );
  }
  /** Whether entry `i` has an open connection (or is being replaced). */
  busy(i: number): boolean {
    return Atomics.load(this.src, this.at.sourceEntry(i) + SourceEntry.Active) !== 0;
  }
  /** Stop admissions to an idle entry before replacing it; false when it has a connection. */
  lockActive(i: number): boolean {
    return Atomics.compareExchange(this.src, this.at.sourceEntry(i) + SourceEntry.Active, 0, SOURCE_LOCKED) === 0;
  }
  /**
   * Write a new source into entry `i` (whose claim this worker holds): key,
   * counters zeroed, `tokens` in the bucket, seen `now` (source clock, ms), then
   * the owner, then active 0 (which also lifts SOURCE_LOCKED). The caller
   * publishes the tag after.
   */
  write(i: number, owner: number, key: Int32Array, tokens: number, now: number): void {
    const e = this.at.sourceEntry(i);
    const s = this.src;
    for (let k = 0; k < KEY_WORDS; k++) Atomics.store(s, e + SourceEntry.Key + k, key[k]!);
    Atomics.store(s, e + SourceEntry.Tokens, tokens);
    Atomics.store(s, e + SourceEntry.Refill, now);
    Atomics.store(s, e + SourceEntry.Seen, now);
    Atomics.store(s, e + SourceEntry.Connections, 0);
    for (let k = 0; k < SOURCE_REJECTS; k++) Atomics.store(s, e + SourceEntry.Rejected + k, 0);
    Atomics.store(s, e + SourceEntry.Owner, owner);
    Atomics.store(s, e + SourceEntry.Active, 0);
  }
  /**
   * Make entry `i` (claimed, SOURCE_LOCKED) match nobody without emptying it, so
   * the probes that pass it go on; it is the first to be replaced. The caller
   * publishes the tag after.
   */
  retire(i: number): void {
    const e = this.at.sourceEntry(i);
    Atomics.store(this.src, e + SourceEntry.Owner, SOURCE_DEAD);
    Atomics.store(this.src, e + SourceEntry.Active, 0);
  }
  /**
   * Main thread: retire idle entry `i`, seen stable as `tag`, to bring a listener
   * over its table_size back to it. False when a worker got there first or the
   * entry has a connection again.
   */
  trim(i: number, tag: number): boolean {
    if (!this.claim(MAIN_WRITER - 1, i, tag)) return false;
    if (!this.lockActive(i)) {
      this.unclaim(i, tag);
      return false;
    }
    this.retire(i);
    this.publish(i, tag);
    return true;
  }
  /** Open connections on entry `i`; negative while it is being replaced. */
  active(i: number): number {
    return Atomics.load(this.src, this.at.sourceEntry(i) + SourceEntry.Active);
  }
  /**
   * Count a connection on entry `i` against `max` (0 = no limit), like acquire()
   * for a backend: 1 taken, 0 at max, -1 when the entry is being replaced (look again).
   */
  acquire(worker: number, i: number, max: number): number {
    const at = this.at.sourceEntry(i) + SourceEntry.Active;
    let cur = Atomics.load(this.src, at);
    for (;;) {
      if (cur < 0) return -1;
      if (max > 0 && cur >= max) return 0;
      const seen = Atomics.compareExchange(this.src, at, cur, cur + 1);
      if (seen === cur) break;
      cur = seen;
    }
    this.src[this.at.sourceHeld(worker, i)]! += 1;
    return 1;
  }
  /** A connection counted by acquire() closed: the same entry, whatever happened to it since. */
  release(worker: number, i: number): void {
    Atomics.sub(this.src, this.at.sourceEntry(i) + SourceEntry.Active, 1);
    this.src[this.at.sourceHeld(worker, i)]! -= 1;
  }
  /**
   * Take one token from entry `i`'s bucket (`one` per token, `full` when full,
   * refilled at `perMs` per ms of the source clock `now`). The span since the last
   * refill is credited by whichever worker moves SourceEntry.Refill forward with
   * compareExchange, so it is credited exactly once; the fill itself changes
   * with compareExchange loops. False when less than one token is left.
   */
  takeToken(i: number, now: number, perMs: number, one: number, full: number): boolean {
    const e = this.at.sourceEntry(i);
    const s = this.src;
    let last = Atomics.load(s, e + SourceEntry.Refill);
    for (;;) {
      const d = (now - last) | 0;
      // another worker's clock a little ahead: nothing to credit yet
      if (d <= 0 && d >= -SOURCE_STALE_MS) break;
      const seen = Atomics.compareExchange(s, e + SourceEntry.Refill, last, now);
      if (seen !== last) {
        last = seen;
        continue;
      }
      // far behind (negative after the int32 wrap): idle for weeks, so the bucket is full
      const credit = d < 0 ? full : Math.floor(d * perMs);
      let cur = Atomics.load(s, e + SourceEntry.Tokens);
      for (;;) {
        const next = Math.min(full, cur + credit);
        const got = Atomics.compareExchange(s, e + SourceEntry.Tokens, cur, next);
        if (got === cur) break;
        cur = got;
      }
      break;
    }
    let cur = Atomics.load(s, e + SourceEntry.Tokens);
    for (;;) {
      if (cur < one) return false;
      const got = Atomics.compareExchange(s, e + SourceEntry.Tokens, cur, cur - one);
      if (got === cur) return true;
      cur = got;
    }
  }
  /** Entry `i` was looked up at `now` (source clock, ms). */
  touch(i: number, now: number): void {
    Atomics.store(this.src, this.at.sourceEntry(i) + SourceEntry.Seen, now);
  }
  /** Source clock (ms) of entry `i`'s last lookup. */
  seen(i: number): number {
    return Atomics.load(this.src, this.at.sourceEntry(i) + SourceEntry.Seen);
  }
  countConnection(i: number): void {
    Atomics.add(this.src, this.at.sourceEntry(i) + SourceEntry.Connections, 1);
  }
  countRejected(i: number, reason: SourceReject): void {
    Atomics.add(this.src, this.at.sourceEntry(i) + SourceEntry.Rejected + reason, 1);
  }
  addEntries(listener: number, delta: number): void {
    Atomics.add(this.src, this.at.sourceListener(listener) + SourceListenerI32.Entries, delta);
  }
  /** Entries the listener holds (approximate under races). */
  entries(listener: number): number {
    return Atomics.load(this.src, this.at.sourceListener(listener) + SourceListenerI32.Entries);
  }
  countEviction(listener: number): void {
    Atomics.add(this.src, this.at.sourceListener(listener) + SourceListenerI32.Evictions, 1);
  }
  countDegraded(listener: number): void {
    Atomics.add(this.src, this.at.sourceListener(listener) + SourceListenerI32.Degraded, 1);
  }
  listenerStats(listener: number): SourceListenerStats {
    if (this.capacity === 0) return { entries: 0, evictions: 0, degraded: 0 };
    const b = this.at.sourceListener(listener);
    return {
      entries: Math.max(0, Atomics.load(this.src, b + SourceListenerI32.Entries)),
      evictions: Atomics.load(this.src, b + SourceListenerI32.Evictions) >>> 0,
      degraded: Atomics.load(this.src, b + SourceListenerI32.Degraded) >>> 0,
    };
  }
  /**
   * A listener slot is given to a new listener: bump its epoch, so the previous
   * listener's entries stay until replaced but no longer match, and zero its counts.
   */
  resetListener(listener: number): void {
    if (this.capacity === 0) return;
    const sl = this.at.sourceListener(listener);
    Atomics.store(
      this.src,
      sl + SourceListenerI32.Epoch,
      (Atomics.load(this.src, sl + SourceListenerI32.Epoch) + 1) & 0xfffff,
    );
    for (const f of [SourceListenerI32.Entries, SourceListenerI32.Evictions, SourceListenerI32.Degraded])
      Atomics.store(this.src, sl + f, 0);
  }
  /** Copy entry `i` into `out` (main thread); false when it is empty, dead or being rewritten. */
  read(i: number, out: SourceRecord): boolean {
    const e = this.at.sourceEntry(i);
    const s = this.src;
    const tag = Atomics.load(s, e + SourceEntry.Tag);
    if ((tag & TAG_WRITER) !== 0) return false;
    const owner = Atomics.load(s, e + SourceEntry.Owner);
    if (owner === SOURCE_EMPTY || owner === SOURCE_DEAD) return false;
    const fp = Atomics.load(s, e + SourceEntry.Key);
    out.owner = owner;
    out.family = fp >> 8 === 6 ? 6 : 4;
    out.prefix = fp & 0xff;
    for (let k = 0; k < 4; k++) out.words[k] = Atomics.load(s, e + SourceEntry.Key + 1 + k) >>> 0;
    out.active = Math.max(0, Atomics.load(s, e + SourceEntry.Active));
    out.connections = Atomics.load(s, e + SourceEntry.Connections) >>> 0;
    let rejected = 0;
    for (let k = 0; k < SOURCE_REJECTS; k++) rejected += Atomics.load(s, e + SourceEntry.Rejected + k) >>> 0;
    out.rejected = rejected;
    // a rewrite during the copy: the caller skips the entry rather than show a mix of two sources
    return Atomics.load(s, e + SourceEntry.Tag) === tag;
  }
  /**
   * A worker died: give back the connections it held on each entry, and undo
   * what it left half done: a window lock is released, and an entry it was
   * rewriting becomes SOURCE_DEAD (not empty: an empty entry ends a probe, and
   * the sources after it in the window would be missed and tracked twice).
   * Returns the connections given back. Main thread only, after the worker's exit.
   */
  releaseWorker(worker: number): number {
    const s = this.src;
    const n = this.capacity;
    const me = worker + 1;
    let released = 0;
    for (let i = 0; i < n; i++) {
      const h = this.at.sourceHeld(worker, i);
      const held = s[h]!;
      const e = this.at.sourceEntry(i);
      if (held !== 0) {
        Atomics.sub(s, e + SourceEntry.Active, held);
        s[h] = 0;
        released += held;
      }
      if (Atomics.load(s, e + SourceEntry.Lock) === me) Atomics.store(s, e + SourceEntry.Lock, 0);
      const tag = Atomics.load(s, e + SourceEntry.Tag);
      if ((tag & TAG_WRITER) === me) {
        Atomics.store(s, e + SourceEntry.Owner, SOURCE_DEAD);
        // lift SOURCE_LOCKED; a count another worker is about to undo is left to it
        Atomics.compareExchange(s, e + SourceEntry.Active, SOURCE_LOCKED, 0);
        this.publish(i, tag);
      }
    }
    return released;
  }
}
