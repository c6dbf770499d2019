// rise/fall as HAProxy counts them: `rise` consecutive successes bring a down
// backend up, `fall` consecutive failures take an up one down. The count is
// signed, as the state table shows it: >0 progress toward rise, <0 toward fall.

export interface RiseFallStep {
  /** the new signed count (0 after a flip, and after any result that agrees with the state) */
  count: number;
  /** the backend's state must change */
  flip: boolean;
}

export function riseFall(up: boolean, count: number, ok: boolean, rise: number, fall: number): RiseFallStep {
  if (up) {
    if (ok) return { count: 0, flip: false };
    const c = Math.min(count, 0) - 1;
    return -c >= fall ? { count: 0, flip: true } : { count: c, flip: false };
  }
  if (!ok) return { count: 0, flip: false };
  const c = Math.max(count, 0) + 1;
  return c >= rise ? { count: 0, flip: true } : { count: c, flip: false };
}
