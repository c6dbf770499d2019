import { loadConfigFile } from '../daemon/config/load.js';
import { ConfigErrors, type ErrorCode } from '../daemon/errors.js';
import type { Config } from '../daemon/config/schema.js';
import { DiscoveryService } from '../daemon/control/discovery/service.js';
import { setLogSink } from '../daemon/log.js';

/** One discovery source as `--resolve` found it. */
interface Resolved {
  path: string;
  source: string;
  ok: boolean;
  backends: number;
  /** why it failed ("nx: app.internal: no A or AAAA record"), or null */
  error: string | null;
  /** E_RESOLVE when it gave no backend */
  code: ErrorCode | null;
}

/**
 * Prints the verdict; returns the exit code. With `resolve`, every discovery
 * source is asked once, as the daemon would at start ([resolvers], [etcd]):
 * a source that gives no backend is an E_RESOLVE line and exit 1 (the daemon
 * itself starts without its backends and keeps asking).
 */
export async function checkConfig(file: string, json: boolean, resolve = false): Promise<number> {
  let config: Config;
  try {
    config = loadConfigFile(file);
  } catch (err) {
    if (!(err instanceof ConfigErrors)) throw err;
    if (json) {
      const errors = err.errors.map((e) => ({ code: e.code, path: e.path, line: e.line ?? null, message: e.message }));
      const out = err.omitted > 0 ? { ok: false, file, errors, omitted: err.omitted } : { ok: false, file, errors };
      process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    } else {
      for (const line of err.lines()) process.stderr.write(line + '\n');
      process.stderr.write(`${file}: ${err.total} error(s)\n`);
    }
    return 1;
  }
  const backends = config.pools.reduce((n, p) => n + p.backends.length, 0);
  const summary = `${config.listeners.length} listener(s), ${config.pools.length} pool(s), ${backends} backend(s), ${config.workers} worker(s)`;
  const sources = resolve ? await tryResolve(config) : null;
  const ok = sources === null || sources.every((s) => s.ok);
  if (json) {
    process.stdout.write(JSON.stringify({ ok, file, summary, ...(sources ? { sources } : {}) }) + '\n');
    return ok ? 0 : 1;
  }
  process.stdout.write(`${file}: ok: ${summary}\n`);
  for (const s of sources ?? []) {
    if (s.ok) process.stdout.write(`${file}: ${s.path}: ${s.source}: ${s.backends} backend(s)\n`);
    else process.stderr.write(`${file}: ${s.path}: ${s.source}: ${s.error} [${s.code}]\n`);
  }
  return ok ? 0 : 1;
}

/** Ask every source once, with the daemon's own discovery code, and stop. */
async function tryResolve(config: Config): Promise<Resolved[]> {
  // what the daemon would log of each source is printed below, once, as the verdict
  setLogSink(() => undefined);
  const d = new DiscoveryService({ now: Date.now, changed: () => undefined, notice: () => undefined });
  try {
    await d.sync(config);
    return d.status().map((s) => {
      const ok = s.state === 'ok' && s.backends > 0;
      return {
        path: s.path,
        source: s.source,
        ok,
        backends: s.backends,
        error: ok ? null : s.state === 'ok' ? 'no backend found' : (s.error ?? 'no answer in time'),
        code: ok ? null : 'E_RESOLVE',
      };
    });
  } finally {
    d.stop();
  }
}
