// The overview table's columns. Each has a width and a priority: a terminal
// shows the most important ones that fit (80 columns: state, weight, traffic,
// first-byte p95), a wide one all of them, with the name and trend widened.
import type { BackendSnapshot, Percentiles } from '../../daemon/control/snapshot/snapshot.js';
import { bytes, compact, fit, percent, sparkline } from '../format.js';
import type { BackendSeries } from '../reducer.js';
import { displayState, type Row } from '../rows.js';
import { STATE_COLORS, type Segment } from '../components/segments.js';

interface CellContext {
  series: BackendSeries | undefined;
  /** width the cell has (the trend and name columns stretch) */
  width: number;
}

interface Column {
  id: string;
  title: string;
  width: number;
  align: 'left' | 'right';
  /** lower is shown first when space is short */
  priority: number;
  /** a narrower column this one stands in for when both fit */
  replaces?: string;
  /** stretches to use spare width, up to this */
  grow?: number;
  cell(row: Row, c: CellContext): Segment;
}

/** short milliseconds for p50/p95/p99 triples: 0.4, 12, 1.2s */
function msShort(n: number): string {
  if (!Number.isFinite(n) || n <= 0) return '-';
  if (n < 10) return n.toFixed(1);
  if (n < 1000) return String(Math.round(n));
  return `${(n / 1000).toFixed(1)}s`;
}

function triple(p: Percentiles): string {
  return `${msShort(p.p50)}/${msShort(p.p95)}/${msShort(p.p99)}`;
}

const blank: Segment = { text: '' };

function rates(row: Row): BackendSnapshot['rates'] {
  return row.kind === 'backend' ? row.backend.rates : row.kind === 'pool' ? row.pool.rates : row.listener.rates;
}

function nameCell(row: Row): Segment {
  switch (row.kind) {
    case 'listener':
      return { text: `listener ${row.listener.name}`, bold: true };
    case 'pool':
      return { text: `pool ${row.pool.name}`, bold: true };
    case 'backend':
      return { text: `  ${row.backend.name}${row.backend.backup ? ' (b)' : ''}` };
  }
}

function stateCell(row: Row): Segment {
  switch (row.kind) {
    case 'listener':
      return row.listener.enabled ? { text: 'open', color: 'green' } : { text: 'disabled', color: 'yellow' };
    case 'pool': {
      const p = row.pool;
      return { text: `${p.up}/${p.total} up`, color: p.up === 0 ? 'red' : p.up < p.total ? 'yellow' : 'green' };
    }
    case 'backend': {
      const s = displayState(row.backend);
      return { text: s, color: STATE_COLORS[s], bold: s !== 'up' };
    }
  }
}

const COLUMNS: readonly Column[] = [
  { id: 'name', title: 'NAME', width: 13, align: 'left', priority: 0, grow: 26, cell: nameCell },
  { id: 'state', title: 'STATE', width: 8, align: 'left', priority: 1, cell: stateCell },
  {
    // the weight as `ctl show backends` shows it: effective (slow start) / configured
    id: 'weight',
    title: 'EFF/CFG',
    width: 7,
    align: 'right',
    priority: 2,
    cell: (r) => (r.kind === 'backend' ? { text: `${r.backend.effectiveWeight}/${r.backend.weight}` } : blank),
  },
  {
    id: 'active',
    title: 'ACT',
    width: 5,
    align: 'right',
    priority: 3,
    cell: (r) => ({
      text: compact(
        r.kind === 'backend' ? r.backend.active : r.kind === 'listener' ? r.listener.active : r.pool.queued,
      ),
    }),
  },
  {
    id: 'conn',
    title: 'CONN/s',
    width: 6,
    align: 'right',
    priority: 4,
    cell: (r) => ({ text: compact(rates(r).connections) }),
  },
  { id: 'in', title: 'IN/s', width: 6, align: 'right', priority: 5, cell: (r) => ({ text: bytes(rates(r).bytesIn) }) },
  {
    id: 'out',
    title: 'OUT/s',
    width: 6,
    align: 'right',
    priority: 6,
    cell: (r) => ({ text: bytes(rates(r).bytesOut) }),
  },
  {
    id: 'fb95',
    title: 'FB p95',
    width: 6,
    align: 'right',
    priority: 7,
    cell: (r) => (r.kind === 'backend' ? { text: msShort(r.backend.firstByteMs.p95) } : blank),
  },
  {
    id: 'err',
    title: 'ERR/s',
    width: 5,
    align: 'right',
    priority: 8,
    cell: (r) => {
      const e = rates(r).errors;
      return { text: compact(e), color: e > 0 ? 'red' : undefined };
    },
  },
  {
    id: 'trend',
    title: 'TREND',
    width: 8,
    align: 'left',
    priority: 9,
    grow: 30,
    cell: (r, c) =>
      r.kind === 'backend' ? { text: sparkline(c.series?.connections ?? [], c.width), color: 'cyan' } : blank,
  },
  {
    id: 'fb',
    title: '1ST BYTE 50/95/99',
    width: 17,
    align: 'right',
    priority: 10,
    replaces: 'fb95',
    cell: (r) => (r.kind === 'backend' ? { text: triple(r.backend.firstByteMs) } : blank),
  },
  {
    id: 'check',
    title: 'CHECK',
    width: 12,
    align: 'left',
    priority: 11,
    cell: (r) => {
      if (r.kind !== 'backend') return blank;
      const c = r.backend.check;
      if (c.result === 'none') return { text: c.type === 'none' ? 'no check' : '-', dim: true };
      return { text: `${c.result} ${msShort(c.durationMs)}ms`, color: c.result === 'ok' ? 'green' : 'red' };
    },
  },
  {
    id: 'connect',
    title: 'CONNECT 50/95/99',
    width: 16,
    align: 'right',
    priority: 12,
    cell: (r) => (r.kind === 'backend' ? { text: triple(r.backend.connectMs) } : blank),
  },
  {
    id: 'retries',
    title: 'RETR/s',
    width: 6,
    align: 'right',
    priority: 13,
    cell: (r) => ({ text: compact(rates(r).retries) }),
  },
  {
    id: 'agent',
    title: 'AGENT c/m',
    width: 9,
    align: 'right',
    priority: 14,
    cell: (r) =>
      r.kind === 'backend' && (r.backend.agent.cpu !== null || r.backend.agent.memory !== null)
        ? { text: `${percent(r.backend.agent.cpu)}/${percent(r.backend.agent.memory)}` }
        : blank,
  },
];

export interface Layout {
  columns: Column[];
  widths: number[];
}

/** The columns that fit `width` (one space between), in table order, with spare width shared out. */
export function layoutColumns(width: number): Layout {
  const byPriority = COLUMNS.slice().sort((a, b) => a.priority - b.priority);
  const chosen = new Set<Column>();
  let used = -1;
  for (const c of byPriority) {
    const freed = c.replaces ? (COLUMNS.find((x) => x.id === c.replaces && chosen.has(x))?.width ?? -1) + 1 : 0;
    if (used + 1 + c.width - freed > width) continue;
    if (c.replaces) {
      const old = COLUMNS.find((x) => x.id === c.replaces);
      if (old && chosen.delete(old)) used -= old.width + 1;
    }
    chosen.add(c);
    used += 1 + c.width;
  }
  const columns = COLUMNS.filter((c) => chosen.has(c));
  const widths = columns.map((c) => c.width);
  let spare = width - used;
  for (let i = 0; i < columns.length && spare > 0; i++) {
    const g = columns[i]!.grow;
    if (g === undefined) continue;
    const add = Math.min(spare, g - widths[i]!);
    if (add > 0) {
      widths[i]! += add;
      spare -= add;
    }
  }
  return { columns, widths };
}

export function cellText(seg: Segment, width: number, align: 'left' | 'right'): Segment {
  return { ...seg, text: fit(seg.text, width, align) };
}
