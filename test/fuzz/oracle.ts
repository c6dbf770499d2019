// Time a check spends on its invariants (references, prefixes, a second
// transport) rather than in the parser: the harness leaves it out of the
// input's time, so a hang is the parser's and not the oracle's.
let excludedMs = 0;

/** Runs `fn` (sync or async) outside the input's measured time. */
export function oracle<T>(fn: () => T): T {
  const t0 = performance.now();
  const r = fn();
  if (r instanceof Promise) {
    return r.finally(() => {
      excludedMs += performance.now() - t0;
    }) as T;
  }
  excludedMs += performance.now() - t0;
  return r;
}

/** The oracle time since the last call, ms; resets it. */
export function takeOracleMs(): number {
  const x = excludedMs;
  excludedMs = 0;
  return x;
}
