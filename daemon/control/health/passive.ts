// Passive ejection's cap: workers see connect failures long before the next
// probe, but a network blip seen by every worker must not empty a pool, so at
// most `maxEjectedShare` of a pool's backends may be down by passive ejection.

/** Whether one more backend of a pool of `poolSize` may be ejected. */
export function passiveEjectionAllowed(poolSize: number, ejected: number, maxEjectedShare: number): boolean {
  if (poolSize <= 0) return false;
  // tolerate float error: 0.3 * 10 backends must allow exactly 3
  return (ejected + 1) / poolSize <= maxEjectedShare + 1e-9;
}

/** Without an active check nothing would bring an ejected backend back: it returns after this. */
export const DEFAULT_PASSIVE_COOLDOWN_MS = 10_000;
