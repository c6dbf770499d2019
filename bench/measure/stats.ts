// Medians and spread over repeated runs: a bench reports the median and how far
// the runs strayed from it, so a noisy shared machine shows as a wide spread.

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** (max - min) / median, 0 when there is one run */
  spread: number;
  runs: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function spreadOf(values: readonly number[]): Spread {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { median: NaN, min: NaN, max: NaN, spread: NaN, runs: 0 };
  const m = median(finite);
  const min = Math.min(...finite);
  const max = Math.max(...finite);
  return { median: m, min, max, spread: m !== 0 ? (max - min) / Math.abs(m) : 0, runs: finite.length };
}

/** Jain's fairness index of shares against their expected weights: 1 = exactly as weighted, 1/n = all on one */
export function jainFairness(counts: readonly number[], weights?: readonly number[]): number {
  const x = counts.map((c, i) => c / (weights?.[i] ?? 1));
  const sum = x.reduce((a, b) => a + b, 0);
  const sq = x.reduce((a, b) => a + b * b, 0);
  return sq === 0 ? 0 : (sum * sum) / (x.length * sq);
}

/** "12.3k" style, 3 significant digits */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  if (a >= 100) return String(Math.round(v));
  return String(+v.toPrecision(3));
}

/** "1.23k (±4%)" */
export function formatSpread(s: Spread): string {
  if (s.runs === 0) return '-';
  return s.runs > 1 ? `${formatNumber(s.median)} ±${Math.round((s.spread * 100) / 2)}%` : formatNumber(s.median);
}
