// What a reload (or the start) says it did, truthfully: the changes, every
// changed key path, the listeners that could not be opened (E_LISTEN) and
// what each listener actually serves. A reload whose config was applied but
// some listener could not bind is a partial apply, not a refusal: the new
// config runs, except where it says.
import type { Config } from '../config/schema.js';
import type { ConfigDiff, KeyChange } from './topology/diff.js';
import { formatIpRange, type IpRange } from '../net/ip.js';
import type { ListenErrors } from './supervisor.js';

/** Settings a running daemon does not change: a reload reports them, the next start applies them. */
const RESTART_ONLY = ['workers', 'control', 'metrics', 'limits'];

/** Keys the topology's own summary already describes (topology.ts). */
const DESCRIBED = new Set(['pool:algorithm', 'backend:weight', 'backend:address', 'listener:bind', 'listener:pool']);

/** Summary lines for the changed settings and item keys the topology does not describe. */
export function keyChanges(d: ConfigDiff): string[] {
  const out: string[] = [];
  for (const k of d.settings) {
    const restart = RESTART_ONLY.some((p) => k.path === p || k.path.startsWith(p + '.'));
    out.push(`${line(k)}${restart ? ' takes effect at the next restart' : ''}`);
  }
  const items = (kind: string, changed: { name: string; keys: KeyChange[] }[]): void => {
    for (const c of changed) {
      const rest = c.keys.filter((k) => !DESCRIBED.has(`${kind}:${k.path}`));
      if (rest.length > 0) out.push(`${kind} ${c.name}: ${rest.map(line).join(', ')}`);
    }
  };
  items('listener', d.listeners.changed);
  items('pool', d.pools.changed);
  items('backend', d.backends.changed);
  return out;
}

function line(k: KeyChange): string {
  // a secret is said to have changed, never shown (reload replies, events and logs are read by many)
  if (/(^|\.)password$/.test(k.path)) return `${k.path} changed`;
  return `${k.path} ${show(k.before)} -> ${show(k.after)}`;
}

function show(v: unknown): string {
  if (v === undefined || v === null) return 'none';
  if (v instanceof RegExp) return String(v);
  if (Array.isArray(v)) return `[${v.map(show).join(', ')}]`;
  if (typeof v === 'object') {
    const text = (v as { text?: unknown }).text;
    if (typeof text === 'string') return text;
    return isRange(v) ? formatIpRange(v) : JSON.stringify(v);
  }
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function isRange(v: object): v is IpRange {
  const r = v as Partial<IpRange>;
  return (r.family === 4 || r.family === 6) && Array.isArray(r.bytes) && typeof r.prefix === 'number';
}

/** Where a listener is actually served, and why not as configured. */
export interface ListenerStatus {
  /** the address it is bound on as configured: the config's text, a port 0 as the port it was given */
  bind: string;
  /** the address workers accept on: the configured bind, a previous bind kept after a failed move, or null */
  serving: string | null;
  /** why it is not served as configured ("bind 127.0.0.1:80: listen EACCES: permission denied ... [E_LISTEN]"), or null */
  error: string | null;
}

/**
 * Each listener's status after a generation was applied. `failures` come from
 * the workers: E_LISTEN (a bind failed) or E_PLAN (a plan a worker could not
 * apply: the listener is closed, fail closed). A listener that only some
 * workers could bind is served by the others (on the configured bind) and
 * still reported. `bound` gives the concrete address of a listener's
 * configured bind (its port 0 resolved).
 */
export function listenerStatus(
  config: Config,
  failures: ListenErrors,
  activated: ReadonlySet<string>,
  bound: (name: string) => string,
): Map<string, ListenerStatus> {
  const status = new Map<string, ListenerStatus>();
  for (const l of config.listeners) {
    const bind = bound(l.name);
    // "*": the worker could not apply the plan at all, or died before it did
    const f = failures.filter((x) => x.listener === l.name || x.listener === '*');
    if (f.length === 0) {
      status.set(l.name, { bind, serving: bind, error: null });
      continue;
    }
    // a socket passed by systemd is served by one worker; a bind, by every worker
    const expected = activated.has(l.name) ? 1 : config.workers;
    const failed = f.reduce((n, x) => n + x.workers, 0);
    const why = f.map((x) => `${x.message} [${x.code}]`).join('; ');
    if (failed < expected && f.every((x) => x.code === 'E_LISTEN')) {
      status.set(l.name, { bind, serving: bind, error: `${failed} of ${expected} workers: ${why}` });
    } else {
      const serving = f.every((x) => x.serving === f[0]!.serving) ? f[0]!.serving : null;
      status.set(l.name, { bind, serving, error: why });
    }
  }
  return status;
}

/** The code of what did not apply: a plan a worker refused (E_PLAN) before a bind that failed (E_LISTEN); null: nothing. */
export function failureCode(failures: ListenErrors): 'E_PLAN' | 'E_LISTEN' | null {
  if (failures.length === 0) return null;
  return failures.some((f) => f.code === 'E_PLAN') ? 'E_PLAN' : 'E_LISTEN';
}

/** One line per listener not served as configured ("listener web: bind ... [E_LISTEN]; not serving"). */
export function listenErrorLines(status: ReadonlyMap<string, ListenerStatus>): string[] {
  const out: string[] = [];
  for (const [name, s] of status) {
    if (s.error === null) continue;
    const where = s.serving === null ? 'not serving' : `serving on ${s.serving}`;
    out.push(`listener ${name}: ${s.error}; ${where}`);
  }
  return out;
}
