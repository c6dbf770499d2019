// "Did you mean ...?" for unknown keys, enum words and pool names.

/** Levenshtein distance; inputs are config keys, so quadratic time is fine. */
function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The closest candidate when it is close enough to be a likely typo, else undefined. */
function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase().replace(/-/g, '_');
  let best: string | undefined;
  let bestD = Infinity;
  const allowed = Math.max(2, Math.floor(word.length / 3));
  for (const c of candidates) {
    // the distance is at least the difference in length: skip the work (a key may be kilobytes long)
    if (Math.abs(w.length - c.length) > allowed) continue;
    const d = editDistance(w, c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return bestD <= allowed ? best : undefined;
}

/** ", did you mean "x"?" or "" */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const c = closest(word, candidates);
  return c === undefined ? '' : `; did you mean "${c}"?`;
}
