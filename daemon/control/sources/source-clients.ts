// The main thread's view of the shared per-source table: `show clients` (top
// offenders) and the warning when sources go untracked. Both read shared
// memory: no message to any worker, so a busy or restarting worker cannot
// stall a command, and the answer is current, not a periodic copy.
import type { ClientStats } from '../socket/context.js';
import { touches, type ConfigDiff } from '../topology/diff.js';
import { log } from '../../log.js';
import type { Table } from '../../state/table.js';
import { type SourceRecord, sourceTagStable } from '../../state/sources.js';
import { formatIp, ipFromWords } from '../../net/ip.js';
import { sourceClock, sourceDemand, sourceQuota } from '../../data/edge/source-limits.js';

interface ClientLike {
  active: number;
  connections: number;
  rejected: number;
}

/** Order: most rejected first, then most open connections, then most connections. */
function worse(a: ClientLike, b: ClientLike): number {
  return b.rejected - a.rejected || b.active - a.active || b.connections - a.connections;
}

/**
 * The `limit` worst sources of the listeners in `listeners` (slots), the same
 * address on several listeners summed. A scan of the whole table: a few
 * milliseconds for 2^20 entries, on demand only.
 */
export function readClients(table: Table, listeners: Iterable<number>, limit: number): ClientStats[] {
  if (limit <= 0 || table.sources.capacity === 0) return [];
  const owners = new Set<number>();
  for (const l of listeners) owners.add(table.sources.ownerWord(l));
  const rec: SourceRecord = {
    owner: 0,
    family: 4,
    prefix: 0,
    words: [0, 0, 0, 0],
    active: 0,
    connections: 0,
    rejected: 0,
  };
  const merged = new Map<string, ClientStats>();
  for (let i = 0; i < table.sources.capacity; i++) {
    if (!table.sources.read(i, rec) || !owners.has(rec.owner)) continue;
    if (rec.active === 0 && rec.connections === 0 && rec.rejected === 0) continue;
    const address = recordText(rec);
    const prev = merged.get(address);
    if (prev) {
      prev.active += rec.active;
      prev.connections += rec.connections;
      prev.rejected += rec.rejected;
    } else {
      merged.set(address, { address, active: rec.active, connections: rec.connections, rejected: rec.rejected });
    }
  }
  return selectTop(merged.values(), limit);
}

/** The `k` worst items, without sorting them all. */
function selectTop<T extends ClientLike>(items: Iterable<T>, k: number): T[] {
  const top: T[] = [];
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

function recordText(r: SourceRecord): string {
  const t = formatIp(ipFromWords(r.family, r.words));
  return r.prefix < (r.family === 4 ? 32 : 128) ? `${t}/${r.prefix}` : t;
}

/** How often, at most, the untracked-sources warning is logged per listener. */
const DEGRADED_WARN_MS = 10_000;

/**
 * Logs a warning when a listener admitted connections untracked since the last
 * one (its table is full of sources with open connections): at most one per
 * listener per DEGRADED_WARN_MS, with the count. The count itself is in the
 * table (Table.sourceListenerStats) for the metrics.
 */
export interface SourceListener {
  name: string;
  slot: number;
  /** its table_size in the shared table (sourceQuota) */
  quota: number;
}

export class SourceWatch {
  private readonly seen = new Map<string, { degraded: number; warnedAt: number }>();
  private readonly clock: () => number;
  /** the config's listeners, with their slots and quotas */
  private listeners: SourceListener[] = [];

  /** `clock`: the source clock, sourceClock(table) unless a test drives time */
  constructor(
    private readonly table: Table,
    clock?: () => number,
  ) {
    this.clock = clock ?? sourceClock(table);
  }

  /**
   * The per-source tables' share of a reload: the listeners to watch and
   * their quotas from the new config, and a warning when the listeners now ask
   * for more entries than the table (sized at start) holds.
   */
  apply(d: ConfigDiff, slotOf: (listener: string) => number): void {
    this.listeners = d.next.listeners.map((l) => ({ name: l.name, slot: slotOf(l.name), quota: sourceQuota(l.edge) }));
    const grows =
      d.listeners.added.length > 0 || d.listeners.changed.some((c) => touches(c, 'source_limits', 'allow', 'deny'));
    const want = sourceDemand(d.next);
    if (d.prev !== null && grows && want > this.table.sources.capacity) {
      log.warn('per-source table smaller than the configured table_size total; restart to resize it', {
        configured: want,
        capacity: this.table.sources.capacity,
      });
    }
  }

  tick(now: number): void {
    this.trim(this.listeners);
    this.warnDegraded(this.listeners, now);
  }

  /**
   * A listener at its table_size whose new source found none of its own idle
   * entries nearby took a free one instead (source-index.ts): retire its least
   * recently seen idle entries until it is back at its size. One scan of the
   * table, only when some listener is over.
   */
  trim(listeners: readonly SourceListener[]): void {
    const t = this.table;
    const over = new Map<
      number,
      { slot: number; excess: number; idle: Array<{ i: number; tag: number; seen: number }> }
    >();
    for (const l of listeners) {
      const excess = t.sources.entries(l.slot) - l.quota;
      if (excess > 0) over.set(t.sources.ownerWord(l.slot), { slot: l.slot, excess, idle: [] });
    }
    if (over.size === 0) return;
    for (let i = 0; i < t.sources.capacity; i++) {
      const o = over.get(t.sources.owner(i));
      if (o === undefined || t.sources.busy(i)) continue;
      const tag = t.sources.tag(i);
      if (sourceTagStable(tag)) o.idle.push({ i, tag, seen: t.sources.seen(i) });
    }
    const now = this.clock();
    for (const o of over.values()) {
      o.idle.sort((a, b) => ((now - b.seen) | 0) - ((now - a.seen) | 0));
      for (const e of o.idle) {
        if (o.excess === 0) break;
        // replaced since the scan: its tag moved on, and the claim fails
        if (!t.sources.trim(e.i, e.tag)) continue;
        t.sources.addEntries(o.slot, -1);
        t.sources.countEviction(o.slot);
        o.excess--;
      }
    }
  }

  private warnDegraded(listeners: readonly SourceListener[], now: number): void {
    const keep = new Set<string>();
    for (const { name, slot } of listeners) {
      keep.add(name);
      const s = this.table.sources.listenerStats(slot);
      const prev = this.seen.get(name);
      if (!prev) {
        this.seen.set(name, { degraded: s.degraded, warnedAt: -Infinity });
        continue;
      }
      if (s.degraded < prev.degraded) prev.degraded = s.degraded; // the slot was reset
      if (s.degraded === prev.degraded || now - prev.warnedAt < DEGRADED_WARN_MS) continue;
      log.warn('per-source table full: connections admitted without per-source limits', {
        listener: name,
        untracked: s.degraded - prev.degraded,
        untracked_total: s.degraded,
        entries: s.entries,
        capacity: this.table.sources.capacity,
      });
      prev.degraded = s.degraded;
      prev.warnedAt = now;
    }
    for (const name of this.seen.keys()) if (!keep.has(name)) this.seen.delete(name);
  }
}
