// The dashboard's one data reducer: everything the views show comes from the
// subscription stream (snapshots and events), the connection's fate, and the
// replies to actions. Rates and percentiles arrive computed in the snapshot; the
// reducer only remembers recent values (bounded rings) so views can draw history.
import type { ClientStats } from '../daemon/control/socket/context.js';
import type { AlertSnapshot, DaemonEvent, Snapshot } from '../daemon/control/snapshot/snapshot.js';
import type { CheckResultName } from '../daemon/state/names.js';
import { appendBounded, pushBounded } from './ring.js';

/** samples kept per series: at the default 1 s snapshot interval, 5 minutes */
export const HISTORY = 300;
const MAX_STATE_CHANGES = 500;
const MAX_CHECKS = 50;
export const MAX_LOG = 200;
const MAX_ALERT_LOG = 200;
const MAX_SWITCHES = 50;

export interface BackendSeries {
  connections: number[];
  bytesIn: number[];
  bytesOut: number[];
  errors: number[];
  connectP95: number[];
  firstByteP50: number[];
  firstByteP95: number[];
  firstByteP99: number[];
}

interface PoolSeries {
  connections: number[];
  bytesIn: number[];
  bytesOut: number[];
  errors: number[];
}

interface CheckRecord {
  time: number;
  result: CheckResultName;
  durationMs: number;
  detail: string;
}

interface StateChange {
  time: number;
  backend: string;
  from: string;
  to: string;
  cause: string;
  detail: string;
}

interface AdaptiveSwitch {
  time: number;
  pool: string;
  from: string;
  to: string;
  reason: string;
}

type LogKind = 'action' | 'reply' | 'error' | 'event';

export interface LogEntry {
  time: number;
  kind: LogKind;
  text: string;
}

type ConnectionStatus = 'connecting' | 'connected' | 'lost' | 'failed';

interface ConnectionState {
  status: ConnectionStatus;
  /** ms since epoch of the last status change */
  since: number;
  /** why the connection was lost or refused */
  error: string | null;
  /** when lost: the next attempt is this far away (null: not retrying) */
  retryInMs: number | null;
  /** reconnect attempts since the last success */
  attempts: number;
  /** how many times the subscription was (re)established */
  connects: number;
}

export interface DashboardState {
  socket: string;
  connection: ConnectionState;
  snapshot: Snapshot | null;
  /** snapshot times, aligned with every series (one sample per snapshot) */
  times: number[];
  backendSeries: Record<string, BackendSeries>;
  poolSeries: Record<string, PoolSeries>;
  processCpu: number[];
  processRss: number[];
  /** per backend key, most recent last */
  checks: Record<string, CheckRecord[]>;
  stateChanges: StateChange[];
  /** alert events (fired, resolved) as they happened, most recent last */
  alertLog: AlertSnapshot[];
  switches: AdaptiveSwitch[];
  clients: ClientStats[] | null;
  clientsError: string | null;
  log: LogEntry[];
}

export type DashboardAction =
  | { type: 'snapshot'; snapshot: Snapshot }
  | { type: 'event'; event: DaemonEvent }
  | { type: 'connected'; time: number }
  | { type: 'disconnected'; time: number; error: string; retryInMs: number | null }
  | { type: 'clients'; clients: ClientStats[] }
  | { type: 'clients-error'; error: string }
  | { type: 'log'; time: number; kind: LogKind; text: string };

export function initialState(socket: string, now: number): DashboardState {
  return {
    socket,
    connection: { status: 'connecting', since: now, error: null, retryInMs: null, attempts: 0, connects: 0 },
    snapshot: null,
    times: [],
    backendSeries: {},
    poolSeries: {},
    processCpu: [],
    processRss: [],
    checks: {},
    stateChanges: [],
    alertLog: [],
    switches: [],
    clients: null,
    clientsError: null,
    log: [],
  };
}

function seriesOf<K extends string>(
  prev: Record<K, number[]> | undefined,
  values: Record<K, number>,
): Record<K, number[]> {
  const out = {} as Record<K, number[]>;
  for (const k of Object.keys(values) as K[]) out[k] = pushBounded(prev?.[k], values[k], HISTORY);
  return out;
}

function onSnapshot(state: DashboardState, s: Snapshot): DashboardState {
  // Series follow the current config: a backend removed by a reload drops its history.
  const backendSeries: Record<string, BackendSeries> = {};
  const checks: Record<string, CheckRecord[]> = {};
  for (const b of s.backends) {
    backendSeries[b.key] = seriesOf(state.backendSeries[b.key], {
      connections: b.rates.connections,
      bytesIn: b.rates.bytesIn,
      bytesOut: b.rates.bytesOut,
      errors: b.rates.errors,
      connectP95: b.connectMs.p95,
      firstByteP50: b.firstByteMs.p50,
      firstByteP95: b.firstByteMs.p95,
      firstByteP99: b.firstByteMs.p99,
    });
    const seen = state.checks[b.key] ?? [];
    const last = seen[seen.length - 1];
    // a check is recorded once, when a new one has completed
    checks[b.key] =
      b.check.result !== 'none' && b.check.time > 0 && (!last || last.time !== b.check.time)
        ? pushBounded(
            seen,
            { time: b.check.time, result: b.check.result, durationMs: b.check.durationMs, detail: b.check.detail },
            MAX_CHECKS,
          )
        : seen;
  }
  const poolSeries: Record<string, PoolSeries> = {};
  for (const p of s.pools) {
    poolSeries[p.name] = seriesOf(state.poolSeries[p.name], {
      connections: p.rates.connections,
      bytesIn: p.rates.bytesIn,
      bytesOut: p.rates.bytesOut,
      errors: p.rates.errors,
    });
  }
  return {
    ...state,
    snapshot: s,
    times: pushBounded(state.times, s.time, HISTORY),
    backendSeries,
    poolSeries,
    processCpu: pushBounded(state.processCpu, s.process.cpu, HISTORY),
    processRss: pushBounded(state.processRss, s.process.rssBytes, HISTORY),
    checks,
  };
}

function describeEvent(e: DaemonEvent): string | null {
  switch (e.type) {
    case 'state':
      return `${e.backend}: ${e.from} -> ${e.to} (${e.cause}${e.detail ? `: ${e.detail}` : ''})`;
    case 'alert':
      return `alert ${e.alert.name} ${e.alert.subject} ${e.alert.state}: ${e.alert.message}`;
    case 'reload':
      if (e.ok) return `reload ok, generation ${e.generation}`;
      return e.outcome === 'partial'
        ? `reload applied in part, generation ${e.generation}: ${e.errors[0] ?? ''}`
        : `reload refused: ${e.errors[0] ?? 'unknown error'}`;
    case 'adaptive':
      return `${e.pool}: adaptive ${e.from} -> ${e.to} (${e.reason})`;
    case 'worker':
      return `worker ${e.worker} ${e.what}${e.detail ? `: ${e.detail}` : ''}`;
    case 'discovery':
      return (
        `${e.pool === '*' ? '' : e.pool + ' '}${e.source} ${e.what}` +
        `${e.backend ? ' ' + e.backend : ''}${e.detail ? `: ${e.detail}` : ''}`
      );
    case 'action':
      // the dashboard logs its own actions and replies; others' actions are worth a line too
      return `action ${e.ok ? 'ok' : 'failed'}: ${e.command}: ${e.message}`;
  }
}

function onEvent(state: DashboardState, e: DaemonEvent): DashboardState {
  let next = state;
  if (e.type === 'state') {
    const change: StateChange = {
      time: e.time,
      backend: e.backend,
      from: e.from,
      to: e.to,
      cause: e.cause,
      detail: e.detail,
    };
    next = { ...next, stateChanges: pushBounded(next.stateChanges, change, MAX_STATE_CHANGES) };
  } else if (e.type === 'alert') {
    next = { ...next, alertLog: pushBounded(next.alertLog, e.alert, MAX_ALERT_LOG) };
  } else if (e.type === 'adaptive') {
    const sw: AdaptiveSwitch = { time: e.time, pool: e.pool, from: e.from, to: e.to, reason: e.reason };
    next = { ...next, switches: pushBounded(next.switches, sw, MAX_SWITCHES) };
  }
  const text = describeEvent(e);
  // the daemon reports our own actions back; the log already has them with their reply
  const echo = e.type === 'action' && next.log.slice(-10).some((l) => l.kind === 'action' && l.text === e.command);
  if (text !== null && !echo)
    next = { ...next, log: pushBounded(next.log, { time: e.time, kind: 'event', text }, MAX_LOG) };
  return next;
}

export function reduce(state: DashboardState, a: DashboardAction): DashboardState {
  switch (a.type) {
    case 'snapshot':
      return onSnapshot(state, a.snapshot);
    case 'event':
      return onEvent(state, a.event);
    case 'connected':
      return {
        ...state,
        connection: {
          status: 'connected',
          since: a.time,
          error: null,
          retryInMs: null,
          attempts: 0,
          connects: state.connection.connects + 1,
        },
      };
    case 'disconnected': {
      const c = state.connection;
      return {
        ...state,
        connection: {
          status: a.retryInMs === null ? 'failed' : 'lost',
          // a banner counts from the first loss, not from each failed retry
          since: c.status === 'lost' ? c.since : a.time,
          error: a.error,
          retryInMs: a.retryInMs,
          attempts: c.status === 'lost' ? c.attempts + 1 : 1,
          connects: c.connects,
        },
      };
    }
    case 'clients':
      return { ...state, clients: a.clients, clientsError: null };
    case 'clients-error':
      return { ...state, clientsError: a.error };
    case 'log':
      return { ...state, log: appendBounded(state.log, [{ time: a.time, kind: a.kind, text: a.text }], MAX_LOG) };
  }
}
