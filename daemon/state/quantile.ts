// Quantiles from fixed-bucket histograms, interpolating linearly inside a bucket
// (as Prometheus' histogram_quantile does).

/** counts: per-bucket (not cumulative), bounds.length + 1 entries (last = +Inf). Seconds in, seconds out. */
export function quantile(bounds: readonly number[], counts: readonly number[], q: number): number {
  let total = 0;
  for (const c of counts) total += c;
  if (total === 0) return 0;
  const rank = q * total;
  let seen = 0;
  for (let k = 0; k < counts.length; k++) {
    const c = counts[k]!;
    if (seen + c >= rank && c > 0) {
      const lo = k === 0 ? 0 : bounds[k - 1]!;
      if (k >= bounds.length) return bounds[bounds.length - 1]!; // +Inf bucket: report its lower bound
      const hi = bounds[k]!;
      return lo + (hi - lo) * ((rank - seen) / c);
    }
    seen += c;
  }
  return bounds[bounds.length - 1]!;
}

export function subtractCounts(now: readonly number[], before: readonly number[] | undefined): number[] {
  if (!before) return now.slice();
  return now.map((v, i) => Math.max(0, v - (before[i] ?? 0)));
}
