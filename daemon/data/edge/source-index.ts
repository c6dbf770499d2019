// Where a source lives in the shared per-source table (daemon/state/sources.ts):
// open addressing over a hash of (listener, masked address), probing a window of
// at most WINDOW entries. Every worker finds the same entry for a source, so
// per-source limits hold for the whole daemon, as HAProxy's stick tables are
// shared by its threads.
//
// Entries are never emptied, only replaced, so an empty entry ends a probe: a
// new source is claimed there (compareExchange on the entry's tag; the loser
// looks again and finds the winner's entry). When the window holds no empty
// entry, the least recently seen entry without open connections is replaced,
// under a lock on the window (on its first entry) so that two workers cannot
// put the same new source into two different entries. When every entry in the
// window has connections, find() gives up: the connection is admitted untracked
// and counted as degraded (refusing would let a full table deny everyone).
// All waiting is bounded: a worker that died mid-rewrite cannot stall the others.
import { fmix32 } from '../balance/hash.js';
import { SOURCE_EMPTY, sourceTagStable, sourceOwnerListener } from '../../state/sources.js';
import type { Table } from '../../state/table.js';

/** Entries probed for one source: bounds the work per new source. */
const WINDOW = 16;
/** Reads of a tag or lock held by another worker before sleeping on it (a rewrite takes well under a microsecond). */
const SPINS = 64;
/**
 * Then sleeps of SLEEP_MS: the holder may have been preempted mid-rewrite (more
 * threads than cores), and sleeping gives it the CPU. At most 5 ms in all; a
 * holder that died is cleared by the main thread when its exit is seen.
 */
const SLEEPS = 20;
const SLEEP_MS = 0.25;
/** Fresh probes after losing a race, before giving up on tracking the source. */
const ATTEMPTS = 4;
const RETRY = -1;
/** nothing to replace: every entry of the window has open connections */
const GIVE_UP = -2;
/** no empty entry for the source in the window: replace one */
const FULL = -3;

export class SourceIndex {
  /**
   * The tag of the entry find() returned, as it was when the key was matched or
   * published. An admission compares it after counting its connection: a
   * different tag means the entry was replaced in between, so it looks again.
   */
  tag = 0;
  // the source find() is looking for, kept for its helpers (one find at a time per index)
  private owner = 0;
  private listener = 0;
  private key: Int32Array = new Int32Array(5);
  private quota = 0;
  private tokens = 0;
  private now = 0;

  constructor(
    private readonly table: Table,
    private readonly worker: number,
  ) {}

  /**
   * The entry of `key` ([family << 8 | prefix, four address words]) for the
   * listener whose owner word is `owner`, claimed if new. `quota` is the
   * listener's table_size; `tokens` the bucket a new source starts with.
   * Returns -1 when no entry could be had (counted as degraded).
   */
  find(owner: number, listener: number, key: Int32Array, quota: number, tokens: number, now: number): number {
    const t = this.table;
    if (t.sources.capacity === 0) return -1;
    this.owner = owner;
    this.listener = listener;
    this.key = key;
    this.quota = quota;
    this.tokens = tokens;
    this.now = now;
    const home = hash(owner, key) & (t.sources.capacity - 1);
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      let r = this.walk(home);
      if (r === FULL) r = this.evict(home);
      if (r >= 0) return r;
      if (r === GIVE_UP) break;
    }
    t.sources.countDegraded(listener);
    return -1;
  }

  /** The entry for `key`, a claimed empty one, RETRY, or FULL. */
  private walk(home: number): number {
    const { owner, key } = this;
    const t = this.table;
    const mask = t.sources.capacity - 1;
    const n = Math.min(WINDOW, t.sources.capacity);
    for (let p = 0; p < n; p++) {
      const i = (home + p) & mask;
      const tag = this.stable(i);
      if (!sourceTagStable(tag)) return RETRY;
      if (t.sources.owner(i) === SOURCE_EMPTY) {
        // the end of the chain: the source is not in the table
        if (t.sources.entries(this.listener) >= this.quota) return FULL;
        return this.claimEmpty(i, tag);
      }
      if (t.sources.keyIs(i, owner, key)) {
        if (t.sources.tag(i) !== tag) return RETRY;
        this.tag = tag;
        return i;
      }
      // a key read while the entry was rewritten may have been this source's
      if (t.sources.tag(i) !== tag) return RETRY;
    }
    return FULL;
  }

  private claimEmpty(i: number, tag: number): number {
    const t = this.table;
    // the tag is unchanged since the entry was read empty, or another worker won it
    if (!t.sources.claim(this.worker, i, tag)) return RETRY;
    t.sources.write(i, this.owner, this.key, this.tokens, this.now);
    this.tag = t.sources.publish(i, tag);
    t.sources.addEntries(this.listener, 1);
    return i;
  }

  /** Replace the least recently seen idle entry of the window with `key`, under the window's lock. */
  private evict(home: number): number {
    const t = this.table;
    if (!t.sources.lockWindow(this.worker, home)) {
      // another worker is replacing an entry here, perhaps for this very source: wait, then look again
      for (let k = 0; k < SPINS && t.sources.windowLocked(home); k++);
      for (let k = 0; k < SLEEPS && t.sources.windowLocked(home); k++) t.sources.waitWindow(home, SLEEP_MS);
      return RETRY;
    }
    try {
      return this.evictLocked(home);
    } finally {
      t.sources.unlockWindow(home);
    }
  }

  private evictLocked(home: number): number {
    const { owner, listener, key, quota, now } = this;
    const t = this.table;
    const mask = t.sources.capacity - 1;
    const n = Math.min(WINDOW, t.sources.capacity);
    // at its table_size, a listener gives up one of its own sources when the window has one;
    // otherwise it goes over its size by one entry, and the main thread trims it back
    // (SourceWatch) rather than it take another listener's source or track nothing
    const atQuota = t.sources.entries(listener) >= quota;
    let empty = -1;
    let emptyP = -1;
    let emptyTag = 0;
    const own = new Candidate();
    const other = new Candidate();
    // look again under the lock: the source may have been added since the walk
    for (let p = 0; p < n; p++) {
      const i = (home + p) & mask;
      const tag = this.stable(i);
      if (!sourceTagStable(tag)) return RETRY;
      const o = t.sources.owner(i);
      if (o === SOURCE_EMPTY) {
        if (empty < 0) {
          empty = i;
          emptyP = p;
          emptyTag = tag;
        }
        continue;
      }
      // the source can only be before the first empty entry (the end of its chain)
      if (empty < 0 && t.sources.keyIs(i, owner, key)) {
        if (t.sources.tag(i) !== tag) return RETRY;
        this.tag = tag;
        return i;
      }
      if (t.sources.tag(i) !== tag) return RETRY;
      // an entry with an open connection is never replaced: its close must find it
      if (t.sources.busy(i)) continue;
      const ol = sourceOwnerListener(o);
      // dead, or left by a listener whose slot was since given to another: counted by nobody
      const orphan = ol < 0 || t.sources.ownerWord(ol) !== o;
      const age = orphan ? 0x7fffffff : (now - t.sources.seen(i)) | 0;
      (o === owner ? own : other).offer(i, p, tag, age, orphan ? -1 : ol);
    }
    let victim: Candidate | null = null;
    if (atQuota && own.i >= 0) victim = own;
    else if (empty >= 0) return this.claimEmpty(empty, emptyTag);
    else if (atQuota)
      victim = other.counted < 0 && other.i >= 0 ? other : null; // only an orphan
    else victim = own.age >= other.age ? own : other;
    if (victim === null || victim.i < 0) return GIVE_UP;
    if (!t.sources.claim(this.worker, victim.i, victim.tag)) return RETRY;
    if (!t.sources.lockActive(victim.i)) {
      // a connection was admitted since the scan
      t.sources.unclaim(victim.i, victim.tag);
      return RETRY;
    }
    if (victim.counted >= 0) {
      t.sources.addEntries(victim.counted, -1);
      t.sources.countEviction(victim.counted);
    }
    if (empty >= 0 && victim.p > emptyP) {
      // the source's chain ends at `empty`, before the victim: retire the victim where it is
      // (emptying it would cut the chains through it) and take the empty entry
      t.sources.retire(victim.i);
      t.sources.publish(victim.i, victim.tag);
      return this.claimEmpty(empty, emptyTag);
    }
    t.sources.write(victim.i, owner, key, this.tokens, now);
    this.tag = t.sources.publish(victim.i, victim.tag);
    t.sources.addEntries(listener, 1);
    return victim.i;
  }

  /** The entry's tag once no rewrite is in progress; still unstable when the wait ran out. */
  private stable(i: number): number {
    const t = this.table;
    let tag = t.sources.tag(i);
    for (let k = 0; k < SPINS && !sourceTagStable(tag); k++) tag = t.sources.tag(i);
    for (let k = 0; k < SLEEPS && !sourceTagStable(tag); k++) {
      t.sources.waitTag(i, tag, SLEEP_MS);
      tag = t.sources.tag(i);
    }
    return tag;
  }
}

/** The least recently seen idle entry of a kind in a probe window. */
class Candidate {
  i = -1;
  /** position in the window */
  p = -1;
  tag = 0;
  age = -1;
  /** the listener the entry is counted against; -1 for an orphan */
  counted = -1;

  offer(i: number, p: number, tag: number, age: number, counted: number): void {
    if (this.i >= 0 && age <= this.age) return;
    this.i = i;
    this.p = p;
    this.tag = tag;
    this.age = age;
    this.counted = counted;
  }
}

/** 32-bit mix of the owner word and the five key words (murmur3's finaliser per word). */
function hash(owner: number, key: Int32Array): number {
  let h = Math.imul(owner ^ 0x9e3779b9, 0x85ebca6b);
  for (let k = 0; k < 5; k++) {
    h = Math.imul(h ^ key[k]!, 0xcc9e2d51);
    h = (h << 15) | (h >>> 17);
  }
  return fmix32(h);
}
