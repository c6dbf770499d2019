// Short, fixed-width renderings of the numbers the daemon reports. The
// dashboard only formats: every rate and percentile arrives computed.

const SI = ['', 'k', 'M', 'G', 'T'];

/** 0, 12, 1.2k, 34k, 5.6M: at most 4 characters for a per-second rate or count. */
export function compact(n: number): string {
  if (!Number.isFinite(n) || n <= 0) return '0';
  if (n < 10) return String(Math.round(n * 10) / 10);
  let i = 0;
  let v = n;
  while (v >= 1000 && i < SI.length - 1) {
    v /= 1000;
    i++;
  }
  if (i === 0) return String(Math.round(v));
  return (v < 10 ? v.toFixed(1) : String(Math.round(v))) + SI[i];
}

/** Bytes as 0B, 512B, 1.2K, 34M (1024 based, as ss and htop show them). */
export function bytes(n: number): string {
  if (!Number.isFinite(n) || n <= 0) return '0B';
  const units = ['B', 'K', 'M', 'G', 'T'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${Math.round(v)}B`;
  return (v < 10 ? v.toFixed(1) : String(Math.round(v))) + units[i];
}

/** Milliseconds: 0.4ms, 12ms, 1.2s. */
export function ms(n: number): string {
  if (!Number.isFinite(n) || n <= 0) return '-';
  if (n < 1) return `${n.toFixed(1)}ms`;
  if (n < 1000) return `${Math.round(n)}ms`;
  return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}s`;
}

/** Uptime as 45s, 12m03s, 3h04m, 2d05h. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

/** Wall-clock time HH:MM:SS in local time. */
export function clock(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A share 0..1 (or null when not reported) as a percentage. */
/** Agent-reported figures are percents (0..100), as the health-check agent contract says. */
export function percent(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return '-';
  return `${Math.round(value)}%`;
}

/** Pads or cuts to exactly `width` cells; numbers are right-aligned by the caller's choice. */
export function fit(s: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return '';
  if (s.length > width) return width === 1 ? s.slice(0, 1) : s.slice(0, width - 1) + '…';
  return align === 'right' ? s.padStart(width) : s.padEnd(width);
}

const BARS = '▁▂▃▄▅▆▇█';

/**
 * The last `width` values as block characters, scaled to the largest of them;
 * padded on the left so a fresh series grows from the right edge.
 */
export function sparkline(values: readonly number[], width: number): string {
  if (width <= 0) return '';
  const tail = values.slice(-width);
  const max = Math.max(0, ...tail);
  let out = '';
  for (const v of tail) {
    if (max <= 0 || !(v > 0)) out += BARS[0];
    else out += BARS[Math.min(BARS.length - 1, Math.round((v / max) * (BARS.length - 1)))];
  }
  return out.padStart(width);
}
