// Plain-text tables for the control socket's human replies. A reply ends with
// an empty line, so no formatter may produce one: tables are contiguous lines.

export type Align = 'left' | 'right';

/** Columns aligned on the widest cell; numbers usually right-aligned. */
export function table(headers: string[], rows: string[][], align: Align[] = []): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (align[i] === 'right' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** `key: value` lines with the values aligned. */
export function keyValues(pairs: Array<[string, string]>): string {
  const w = Math.max(0, ...pairs.map(([k]) => k.length)) + 1;
  return pairs.map(([k, v]) => `${(k + ':').padEnd(w)} ${v}`.trimEnd()).join('\n');
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function bytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v}B` : `${v < 10 ? v.toFixed(1) : Math.round(v)}${UNITS[u]}`;
}

/** Rates: one decimal below 10, whole numbers above. */
export function rate(n: number): string {
  if (n === 0) return '0';
  return n < 10 ? n.toFixed(1) : String(Math.round(n));
}

export function ms(n: number): string {
  if (n === 0) return '-';
  return n < 10 ? n.toFixed(1) : String(Math.round(n));
}

export function duration(seconds: number): string {
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const parts = d > 0 ? [`${d}d`, `${h}h`, `${m}m`] : h > 0 ? [`${h}h`, `${m}m`] : [`${m}m`];
  return `${parts.join('')}${String(s % 60).padStart(2, '0')}s`;
}

export function time(msSinceEpoch: number): string {
  return msSinceEpoch > 0
    ? new Date(msSinceEpoch)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z')
    : '-';
}

/** Keeps one reply one block: no empty lines, no control characters but newlines. */
export function sanitizeBlock(text: string): string {
  const clean = text.replace(/\r/g, '').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '?');
  return clean
    .split('\n')
    .filter((l) => l.trim() !== '')
    .join('\n');
}
