// Time, for the hang bound: the CPU time of the thread running the parser, not
// wall time (on a shared machine wall time is mostly other processes'), and
// without the work a check does for its invariants (references, prefixes, a
// second transport), so that a hang is the parser's and not the oracle's.

/** CPU time this thread has used, ms. */
export function cpuMs(): number {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1000;
}

let excludedMs = 0;

/** Runs `fn` (sync or async) with its CPU time left out of the input's. */
export function oracle<T>(fn: () => T): T {
  const t0 = cpuMs();
  const r = fn();
  if (r instanceof Promise) {
    return r.finally(() => {
      excludedMs += cpuMs() - t0;
    }) as T;
  }
  excludedMs += cpuMs() - t0;
  return r;
}

/** The oracle's CPU time since the last call, ms; resets it. */
export function takeOracleMs(): number {
  const x = excludedMs;
  excludedMs = 0;
  return x;
}
