// Whether the file-descriptor limit fits the config: checked at start and on
// each reload, so that an operator learns of a too-low LimitNOFILE (or
// `ulimit -n`) from the log rather than from clients refused under load.
import type { Config } from '../config/schema.js';
import { log } from '../log.js';
import { fdLimit } from '../process-fds.js';

/** descriptors the main thread keeps besides health probes: control and metrics clients, the log, Node's own */
const MAIN_THREAD_FDS = 64;

/**
 * Descriptors the config may need at once: two per client connection (client
 * and backend) up to max_connections (the global one, or else the listeners'
 * summed when each sets one), one listening socket per listener and worker,
 * one per backend for its health probe, and the main thread's. null when no
 * max_connections bounds the connections.
 */
export function fdsNeeded(config: Config): number | null {
  let connections = config.maxConnections;
  if (connections === 0) {
    if (config.listeners.some((l) => l.maxConnections === 0)) return null;
    connections = config.listeners.reduce((n, l) => n + l.maxConnections, 0);
  }
  const backends = config.pools.reduce((n, p) => n + p.backends.length, 0);
  return 2 * connections + config.listeners.length * config.workers + backends + MAIN_THREAD_FDS;
}

/** Log a warning when the process's descriptor limit is below what `config` needs. */
export function warnFdLimit(config: Config): void {
  const limit = fdLimit();
  const warning = fdLimitWarning(config, limit);
  if (warning !== null) log.warn(warning, { limit, needed: fdsNeeded(config) });
}

/** A warning when `limit` (RLIMIT_NOFILE) is below what the config needs, else null. */
export function fdLimitWarning(config: Config, limit: number): string | null {
  const need = fdsNeeded(config);
  if (need === null || need <= limit) return null;
  return (
    `the file descriptor limit (${limit}) is below the ${need} that max_connections needs ` +
    `(two per connection, plus listeners and probes): raise LimitNOFILE= or ulimit -n, ` +
    `or lower max_connections; meanwhile netmon stops accepting when descriptors run short`
  );
}
