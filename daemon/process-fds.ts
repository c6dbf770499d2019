// The process's file descriptors: how many are open and the soft limit
// (RLIMIT_NOFILE), read from /proc on Linux. Both planes use it: workers to stop
// accepting before the limit is reached, the main thread for `show info`, the
// metrics and the fd_exhaustion alert. Counting costs no descriptor: a stat of
// /proc/self/fd gives the count on Linux 6.2+; older kernels report size 0 and
// the directory is listed instead (which needs one, and fails at the limit).
// Both are read by the native addon when it loads (native/fds.c: one system
// call each, about 1 µs, where Node's statSync and a read of /proc/self/limits
// took 4 to 13); else by Node, the limit through one descriptor per thread,
// kept open.
import { openSync, readFileSync, readSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { loadRelayAddon, type FdAddon } from './data/native/addon.js';

/** the addon's counters on this thread: undefined until first asked, null when it does not load */
let native: FdAddon | null | undefined;

function fdAddon(): FdAddon | null {
  if (native === undefined) {
    const loaded = loadRelayAddon();
    native = 'addon' in loaded && typeof loaded.addon.openFds === 'function' ? loaded.addon : null;
  }
  return native;
}

/** Open descriptors of the whole process (all threads); -1 when they cannot be counted now. */
export function openFds(): number {
  const n = fdAddon()?.openFds() ?? -1;
  if (n > 0) return n;
  try {
    const n = statSync('/proc/self/fd').size;
    if (n > 0) return n;
    return readdirSync('/proc/self/fd').length - 1; // the listing's own descriptor
  } catch {
    return -1;
  }
}

/** /proc/self/limits, kept open once read: read again from its start it is written afresh */
let limitsFd = -1;
const limitsBuf = Buffer.allocUnsafe(4096);
const OPEN_FILES = Buffer.from('Max open files');

/**
 * The soft limit on open descriptors (`ulimit -n`, systemd's LimitNOFILE=), or
 * Infinity when unlimited or unknown (not Linux). Throws nothing. A limit
 * changed while running (prlimit) is seen at the next call. Read with
 * getrlimit(2) by the addon; without it from /proc/self/limits (proc(5))
 * through one descriptor kept open per thread (opening the file each time cost
 * about 12 µs; a worker calls this every few accepts). `fallback` when it
 * cannot be read (the first open at the limit).
 */
export function fdLimit(fallback = Infinity): number {
  const a = fdAddon();
  if (a !== null) {
    const n = a.fdLimit();
    return n > 0 ? n : Infinity;
  }
  try {
    if (limitsFd < 0) limitsFd = openSync('/proc/self/limits', 'r');
    const n = readSync(limitsFd, limitsBuf, 0, limitsBuf.length, 0);
    const at = limitsBuf.indexOf(OPEN_FILES);
    if (at < 0 || at >= n) return fallback;
    let i = at + OPEN_FILES.length;
    while (i < n && limitsBuf[i] === 0x20) i++;
    if (limitsBuf[i] === 0x75) return Infinity; // "unlimited"
    let v = 0;
    const from = i;
    for (; i < n && limitsBuf[i]! >= 0x30 && limitsBuf[i]! <= 0x39; i++) v = v * 10 + limitsBuf[i]! - 0x30;
    return i > from && v > 0 && Number.isSafeInteger(v) ? v : fallback;
  } catch {
    return fallback;
  }
}

/**
 * Clients waiting in the accept queue of the listening socket `fd` (connected,
 * not yet accepted: `ss -ltn`'s Recv-Q), which closing the socket makes the
 * kernel reset; -1 when not known. Read by the addon with TCP_INFO (native/fds.c,
 * one system call); without it from /proc/net/tcp and tcp6, whose rx_queue is
 * that count for a socket in LISTEN (proc(5)), found by the socket's inode.
 */
export function acceptQueue(fd: number): number {
  if (fd < 0) return -1;
  const a = fdAddon();
  if (a !== null && typeof a.acceptQueue === 'function') return a.acceptQueue(fd);
  try {
    const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
    if (m === null) return -1;
    for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
      for (const line of readFileSync(file, 'latin1').split('\n')) {
        const f = line.trim().split(/\s+/);
        // sl local remote st tx_queue:rx_queue tr:when retrnsmt uid timeout inode
        if (f[9] === m[1] && f[3] === '0A') return parseInt(f[4]!.split(':')[1]!, 16);
      }
    }
  } catch {
    // not readable (no descriptor to spare, no /proc): not known
  }
  return -1;
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
