// The rows the overview and topology tables show, derived from one snapshot:
// filtered, sorted, and named by a stable id so the selection survives updates.
import type { BackendSnapshot, ListenerSnapshot, PoolSnapshot, Snapshot } from '../daemon/control/snapshot/snapshot.js';
import type { DisplayStateName } from '../daemon/state/names.js';

export type Row =
  | { kind: 'listener'; id: string; depth: number; listener: ListenerSnapshot }
  | { kind: 'pool'; id: string; depth: number; pool: PoolSnapshot }
  | { kind: 'backend'; id: string; depth: number; backend: BackendSnapshot };

export const SORT_COLUMNS = ['name', 'state', 'active', 'conn/s', 'in/s', 'out/s', 'fb p95', 'err/s'] as const;
type SortColumn = (typeof SORT_COLUMNS)[number];

export interface Sort {
  column: SortColumn;
  descending: boolean;
}

/**
 * One word for a backend's state, the most important first: an operator's
 * maint wins over health; a backend that is down shows down even while drained.
 */
export function displayState(b: BackendSnapshot): DisplayStateName {
  if (b.admin === 'maint') return 'maint';
  if (b.op === 'down') return 'down';
  if (b.admin === 'drain') return 'drain';
  if (b.op === 'starting') return 'starting';
  return 'up';
}

const STATE_ORDER: Record<DisplayStateName, number> = { down: 0, starting: 1, drain: 2, maint: 3, up: 4 };

function sortValue(b: BackendSnapshot, c: SortColumn): number | string {
  switch (c) {
    case 'name':
      return b.name;
    case 'state':
      return STATE_ORDER[displayState(b)];
    case 'active':
      return b.active;
    case 'conn/s':
      return b.rates.connections;
    case 'in/s':
      return b.rates.bytesIn;
    case 'out/s':
      return b.rates.bytesOut;
    case 'fb p95':
      return b.firstByteMs.p95;
    case 'err/s':
      return b.rates.errors;
  }
}

function sortBackends(list: readonly BackendSnapshot[], sort: Sort): BackendSnapshot[] {
  const dir = sort.descending ? -1 : 1;
  return list.slice().sort((x, y) => {
    const a = sortValue(x, sort.column);
    const b = sortValue(y, sort.column);
    const d = typeof a === 'string' ? a.localeCompare(b as string) : a - (b as number);
    return d !== 0 ? d * dir : x.key.localeCompare(y.key);
  });
}

function backendMatches(b: BackendSnapshot, filter: string): boolean {
  if (filter === '') return true;
  const f = filter.toLowerCase();
  return (
    b.key.toLowerCase().includes(f) || b.address.includes(f) || displayState(b) === f || b.admin === f || b.op === f
  );
}

function poolBackends(s: Snapshot, p: PoolSnapshot, filter: string, sort: Sort): BackendSnapshot[] {
  const all = s.backends.filter((b) => b.pool === p.name);
  const poolHit = filter !== '' && p.name.toLowerCase().includes(filter.toLowerCase());
  return sortBackends(
    all.filter((b) => poolHit || backendMatches(b, filter)),
    sort,
  );
}

/** Overview: listeners first, then each pool followed by its backends. */
export function overviewRows(s: Snapshot, filter: string, sort: Sort): Row[] {
  const rows: Row[] = [];
  const pools: Row[] = [];
  const shownPools = new Set<string>();
  for (const p of s.pools) {
    const bs = poolBackends(s, p, filter, sort);
    if (filter !== '' && bs.length === 0 && !p.name.toLowerCase().includes(filter.toLowerCase())) continue;
    shownPools.add(p.name);
    pools.push({ kind: 'pool', id: `p:${p.name}`, depth: 0, pool: p });
    for (const b of bs) pools.push({ kind: 'backend', id: `b:${b.key}`, depth: 1, backend: b });
  }
  for (const l of s.listeners) {
    const hit = filter === '' || l.name.toLowerCase().includes(filter.toLowerCase()) || shownPools.has(l.pool);
    if (hit) rows.push({ kind: 'listener', id: `l:${l.name}`, depth: 0, listener: l });
  }
  return rows.concat(pools);
}

/** Topology: listener -> pool -> backends; a pool no listener uses comes last on its own. */
export function topologyRows(s: Snapshot, filter: string, sort: Sort): Row[] {
  const rows: Row[] = [];
  const used = new Set<string>();
  const addPool = (p: PoolSnapshot, depth: number, via: string): void => {
    const bs = poolBackends(s, p, filter, sort);
    if (filter !== '' && bs.length === 0 && !p.name.toLowerCase().includes(filter.toLowerCase())) return;
    rows.push({ kind: 'pool', id: `p:${p.name}@${via}`, depth, pool: p });
    for (const b of bs) rows.push({ kind: 'backend', id: `b:${b.key}@${via}`, depth: depth + 1, backend: b });
  };
  for (const l of s.listeners) {
    rows.push({ kind: 'listener', id: `l:${l.name}`, depth: 0, listener: l });
    const p = s.pools.find((x) => x.name === l.pool);
    if (p) {
      used.add(p.name);
      addPool(p, 1, l.name);
    }
  }
  for (const p of s.pools) if (!used.has(p.name)) addPool(p, 0, '-');
  return rows;
}

/** The backend a row stands for, or the pool's name for a pool row. */
export function rowBackend(r: Row | undefined): BackendSnapshot | null {
  return r?.kind === 'backend' ? r.backend : null;
}

export function rowPool(r: Row | undefined): string | null {
  if (!r) return null;
  if (r.kind === 'pool') return r.pool.name;
  if (r.kind === 'backend') return r.backend.pool;
  return r.listener.pool;
}
