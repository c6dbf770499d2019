// The process's file descriptors: how many are open and the soft limit
// (RLIMIT_NOFILE), read from /proc on Linux. Both planes use it: workers to stop
// accepting before the limit is reached, the main thread for `show info`, the
// metrics and the fd_exhaustion alert. Reading costs no descriptor: a stat of
// /proc/self/fd gives the count on Linux 6.2+; older kernels report size 0 and
// the directory is listed instead (which needs one, and fails at the limit).
import { readFileSync, readdirSync, statSync } from 'node:fs';

/** Open descriptors of the whole process (all threads); -1 when they cannot be counted now. */
export function openFds(): number {
  try {
    const n = statSync('/proc/self/fd').size;
    if (n > 0) return n;
    return readdirSync('/proc/self/fd').length - 1; // the listing's own descriptor
  } catch {
    return -1;
  }
}

/**
 * The soft limit on open descriptors (`ulimit -n`, systemd's LimitNOFILE=), or
 * Infinity when unlimited or unknown (not Linux). Throws nothing: reading
 * /proc/self/limits needs a descriptor, so at the limit `fallback` is returned.
 */
export function fdLimit(fallback = Infinity): number {
  try {
    const line = readFileSync('/proc/self/limits', 'latin1')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    if (soft === undefined || soft === 'unlimited') return Infinity;
    const n = Number(soft);
    return Number.isSafeInteger(n) && n > 0 ? n : fallback;
  } catch {
    return fallback;
  }
}

/** EMFILE (this process's limit) or ENFILE (the system's table): a local resource error, never a peer's. */
export function isFdExhaustion(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}

/**
 * Descriptors kept free: below this many, workers stop accepting. A client
 * connection takes two (client and backend); the main thread's health probes,
 * control and metrics clients take the rest. 32 at least, 1,024 at most.
 */
export function fdReserve(limit: number): number {
  if (!Number.isFinite(limit)) return 0;
  return Math.max(32, Math.min(1024, Math.floor(limit / 64)));
}
