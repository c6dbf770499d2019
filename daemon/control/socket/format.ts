// Human text for the `show` commands. Scripts should use the JSON form: these
// columns are for eyes and may change; the JSON fields are the contract.
import type {
  AlertSnapshot,
  BackendSnapshot,
  DaemonEvent,
  InfoSnapshot,
  ListenerSnapshot,
  PoolSnapshot,
  ProcessSnapshot,
  Snapshot,
  WorkerSnapshot,
} from '../snapshot/snapshot.js';
import type { ClientStats } from './context.js';
import type { HealthReport } from '../service-health.js';
import { bytes, duration, keyValues, ms, rate, table, time } from './text-table.js';

export type InfoData = InfoSnapshot & { process: ProcessSnapshot };

/** "1203 of 65536 (1.8%)"; what the workers did at the limit when they met it */
function fds(p: ProcessSnapshot): string {
  const open = p.openFds < 0 ? '?' : String(p.openFds);
  const of = p.maxFds === null ? 'unlimited' : `${p.maxFds}`;
  const pct = p.maxFds !== null && p.openFds >= 0 ? ` (${((p.openFds / p.maxFds) * 100).toFixed(1)}%)` : '';
  return `${open} of ${of}${pct}`;
}

export function formatInfo(d: InfoData): string {
  const pairs: Array<[string, string]> = [
    ['Name', d.name],
    ['Version', d.version],
    ['Pid', String(d.pid)],
    ['Node', d.node],
    ['Started', time(d.startTime)],
    ['Uptime', duration(d.uptimeSeconds)],
    ['Workers', String(d.workers)],
    ['Config', d.configFile],
    ['Generation', String(d.generation)],
    ['Reloads', `${d.reloads} (${d.reloadFailures} failed)`],
    ['Control socket', d.controlSocket],
    ['Metrics', d.metricsListen ?? 'off'],
    ['Health', healthSummary(d.health)],
    ['CPU', `${(d.process.cpu * 100).toFixed(1)}%`],
    ['RSS', bytes(d.process.rssBytes)],
    ['Heap used', bytes(d.process.heapUsedBytes)],
    ['Loop lag', `${d.process.loopLagMs.toFixed(1)}ms`],
    ['Open fds', fds(d.process)],
  ];
  const r = d.lastReload;
  const outcome = r === null ? '' : r.outcome === 'applied' ? 'ok' : r.outcome === 'partial' ? 'PARTIAL' : 'FAILED';
  pairs.push(['Last reload', r === null ? 'none' : `${outcome} at ${time(r.time)}`]);
  const lines = [keyValues(pairs)];
  if (r !== null && !r.ok) for (const e of r.errors) lines.push(`  ${e}`);
  return lines.join('\n');
}

/** Connects that failed: refused, timed out, or another error. */
function connectErrorsOf(b: BackendSnapshot): number {
  return b.connectErrors.refused + b.connectErrors.timeout + b.connectErrors.other;
}

/** Connections the backend took and failed: closed before any byte, or nothing within timeouts.first_byte. */
function responseErrorsOf(b: BackendSnapshot): number {
  return b.responseErrors.empty + b.responseErrors.timeout;
}

function stateOf(b: BackendSnapshot): string {
  const s = b.admin === 'ready' ? b.op.toUpperCase() : `${b.admin.toUpperCase()}/${b.op}`;
  return b.removed ? `${s} removed` : s;
}

export function formatBackends(list: BackendSnapshot[]): string {
  if (list.length === 0) return '(no backends)';
  const rows = list.map((b) => [
    b.key + (b.backup ? ' (backup)' : ''),
    b.address,
    stateOf(b),
    `${b.effectiveWeight}/${b.weight}`,
    String(b.active) + (b.maxConnections > 0 ? `/${b.maxConnections}` : ''),
    rate(b.rates.connections),
    String(b.connections),
    bytes(b.bytesIn),
    bytes(b.bytesOut),
    String(connectErrorsOf(b)),
    String(responseErrorsOf(b)),
    ms(b.connectMs.p95),
    ms(b.firstByteMs.p95),
    b.check.result === 'none' ? '-' : `${b.check.result} ${ms(b.check.durationMs)}ms`,
  ]);
  return table(
    [
      'BACKEND',
      'ADDRESS',
      'STATE',
      // effective (slow start) / configured: the same order as `netmon top`'s EFF/CFG
      'WEIGHT EFF/CFG',
      'ACTIVE',
      'CONN/S',
      'CONNS',
      'IN',
      'OUT',
      'CONN-ERR',
      'RESP-ERR',
      'P95CONN',
      'P95TTFB',
      'CHECK',
    ],
    rows,
    ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
  );
}

export function formatPools(list: PoolSnapshot[]): string {
  if (list.length === 0) return '(no pools)';
  const rows = list.map((p) => [
    p.name,
    p.algorithm === p.activeAlgorithm ? p.algorithm : `${p.algorithm} (${p.activeAlgorithm})`,
    `${p.up}/${p.total}`,
    String(p.queued),
    rate(p.rates.connections),
    rate(p.rates.errors),
    String(p.retries),
    String(p.adaptiveSwitches),
    backendsFrom(p, Date.now()),
  ]);
  const text = table(
    ['POOL', 'ALGORITHM', 'UP', 'QUEUED', 'CONN/S', 'ERR/S', 'RETRIES', 'SWITCHES', 'BACKENDS FROM'],
    rows,
    ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
  );
  // adaptive pools: why each uses its strategy now, one line each under the table
  const reasons = list
    .filter((p) => p.adaptiveReason !== null)
    .map((p) => `${p.name}: ${p.activeAlgorithm}: ${p.adaptiveReason}`);
  return reasons.length === 0 ? text : `${text}\n\n${reasons.join('\n')}`;
}

/** "config" or "config + dns app.internal:8080 ok 3 (1s ago)", a source per part; "failing" sources say why. */
function backendsFrom(p: PoolSnapshot, now: number): string {
  const discovered = p.discovery.reduce((n, d) => n + d.backends, 0);
  const parts = p.total > discovered ? ['config'] : [];
  for (const d of p.discovery) {
    const ago =
      d.lastRefresh === null
        ? 'never'
        : // a watch is current while it is up: its time is that of the last change seen
          `${d.kind === 'etcd' && d.state === 'ok' ? 'watching, last event ' : ''}${ageText(now - d.lastRefresh)} ago`;
    const why = d.state === 'failing' || d.state === 'expired' ? `: ${d.error ?? 'no answer'}` : '';
    parts.push(`${d.source} ${d.state.toUpperCase()} ${d.backends} (${ago})${why}`);
  }
  return parts.join(' + ') || 'config';
}

/** "850ms", "12s", "3m" */
function ageText(ms: number): string {
  const t = Math.max(0, ms);
  if (t < 1000) return `${Math.round(t)}ms`;
  if (t < 120_000) return `${Math.round(t / 1000)}s`;
  return `${Math.round(t / 60_000)}m`;
}

export function formatListeners(list: ListenerSnapshot[]): string {
  if (list.length === 0) return '(no listeners)';
  const rows = list.map((l) => [
    l.name,
    l.serving !== null && l.serving !== l.bind ? `${l.bind} (serving ${l.serving})` : l.bind,
    l.pool,
    l.serving === null ? 'NOT SERVING' : l.enabled ? 'enabled' : 'DISABLED',
    String(l.active) + (l.maxConnections > 0 ? `/${l.maxConnections}` : ''),
    rate(l.rates.connections),
    String(l.accepted),
    bytes(l.bytesIn),
    bytes(l.bytesOut),
    String(Object.values(l.rejected).reduce((a, b) => a + b, 0)),
  ]);
  const out = table(
    ['LISTENER', 'BIND', 'POOL', 'STATE', 'ACTIVE', 'CONN/S', 'ACCEPTED', 'IN', 'OUT', 'REJECTED'],
    rows,
    ['left', 'left', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'right'],
  );
  const errors = list.filter((l) => l.error !== null).map((l) => `  ${l.name}: ${l.error}`);
  return errors.length > 0 ? [out, ...errors].join('\n') : out;
}

function formatWorkers(list: WorkerSnapshot[]): string {
  const rows = list.map((w) => [
    String(w.id),
    String(w.threadId),
    !w.alive ? 'DEAD' : w.acceptPaused ? 'NO FDS' : 'alive',
    String(w.starts),
    String(w.active),
    String(w.accepted),
    String(w.internalErrors),
    `${w.loopLagMs.toFixed(1)}ms`,
    `${w.cpuSeconds.toFixed(1)}s`,
  ]);
  return table(['WORKER', 'THREAD', 'STATE', 'STARTS', 'ACTIVE', 'ACCEPTED', 'ERRORS', 'LAG', 'CPU'], rows, [
    'right',
    'right',
    'left',
    'right',
    'right',
    'right',
    'right',
    'right',
    'right',
  ]);
}

export type StatsData = Pick<Snapshot, 'time' | 'process' | 'workers' | 'listeners' | 'pools' | 'backends'>;

/** All counters at once, one section per kind, each introduced by a `#` line. */
export function formatStats(d: StatsData): string {
  return [
    `# process  cpu ${(d.process.cpu * 100).toFixed(1)}%  rss ${bytes(d.process.rssBytes)}  lag ${d.process.loopLagMs.toFixed(1)}ms`,
    '# workers',
    formatWorkers(d.workers),
    '# listeners',
    formatListeners(d.listeners),
    '# pools',
    formatPools(d.pools),
    '# backends',
    formatBackends(d.backends),
  ].join('\n');
}

export function formatAlerts(list: AlertSnapshot[]): string {
  if (list.length === 0) return '(no alerts)';
  const rows = list.map((a) => [
    a.state.toUpperCase(),
    a.severity,
    a.name,
    a.subject,
    time(a.since),
    `${round(a.value)}/${round(a.threshold)}`,
    a.message,
  ]);
  return table(['STATE', 'SEVERITY', 'ALERT', 'SUBJECT', 'SINCE', 'VALUE/LIMIT', 'MESSAGE'], rows);
}

function round(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}

/** One line per event, shared by `show events` and `netmon ctl subscribe`. */
export function eventLine(e: DaemonEvent): string {
  const at = time(e.time);
  switch (e.type) {
    case 'state':
      return `${at} state    ${e.backend} ${e.from} -> ${e.to} (${e.cause}${e.detail ? ': ' + e.detail : ''})`;
    case 'alert':
      return `${at} alert    ${e.alert.name} ${e.alert.subject} ${e.alert.state}: ${e.alert.message}`;
    case 'reload':
      if (e.outcome === 'refused') return `${at} reload   FAILED: ${e.errors.join('; ')}`;
      return (
        `${at} reload   ${e.ok ? 'ok' : 'PARTIAL'}, generation ${e.generation}` +
        (e.changes.length ? ': ' + e.changes.join('; ') : '') +
        (e.ok ? '' : `; not applied: ${e.errors.join('; ')}`)
      );
    case 'adaptive':
      return `${at} adaptive ${e.pool} ${e.from} -> ${e.to} (${e.reason})`;
    case 'action':
      return `${at} action   ${e.command}: ${e.ok ? 'ok' : 'failed'}${e.message ? ' ' + e.message : ''}`;
    case 'worker':
      return `${at} worker   ${e.worker} ${e.what}${e.detail ? ': ' + e.detail : ''}`;
    case 'discovery':
      return `${at} discovery ${discoveryText(e)}`;
  }
}

/** "web dns app.internal:8080 added web/app.internal#10.0.0.7:8080: 10.0.0.7:8080, weight 1" */
function discoveryText(e: Extract<DaemonEvent, { type: 'discovery' }>): string {
  const who = e.pool === '*' ? e.source : `${e.pool} ${e.source}`;
  return `${who} ${e.what}${e.backend ? ' ' + e.backend : ''}${e.detail ? ': ' + e.detail : ''}`;
}

export function formatEvents(list: DaemonEvent[]): string {
  return list.length === 0 ? '(no events)' : list.map(eventLine).join('\n');
}

export function formatClients(list: ClientStats[]): string {
  if (list.length === 0) return '(no clients)';
  const rows = list.map((c) => [c.address, String(c.active), String(c.connections), String(c.rejected)]);
  return table(['CLIENT', 'ACTIVE', 'CONNS', 'REJECTED'], rows, ['left', 'right', 'right', 'right']);
}

/** The one-line summary `netmon ctl subscribe` prints per snapshot. */
export function snapshotLine(s: Snapshot): string {
  const up = s.backends.filter((b) => b.op === 'up' && b.admin !== 'maint').length;
  const active = s.listeners.reduce((a, l) => a + l.active, 0);
  const cps = s.listeners.reduce((a, l) => a + l.rates.connections, 0);
  const firing = s.alerts.filter((a) => a.state === 'firing').length;
  return (
    `${time(s.time)} snapshot backends ${up}/${s.backends.length} up, active ${active}, ` +
    `${rate(cps)} conn/s, alerts ${firing} firing, gen ${s.info.generation}`
  );
}

/** One line: "healthy", or "UNHEALTHY (lame duck): stopping" with the phase while stopping and the reason codes. */
function healthSummary(h: HealthReport): string {
  if (h.healthy) return 'healthy';
  const phase = h.phase === 'serving' ? '' : ` (${h.phase.replace('_', ' ')})`;
  return `UNHEALTHY${phase}: ${h.reasons.map((r) => r.code).join(', ')}`;
}

export function formatHealth(h: HealthReport): string {
  const lines = [h.healthy ? 'healthy' : 'UNHEALTHY'];
  for (const r of h.reasons) lines.push(`  ${r.message}`);
  const pairs: Array<[string, string]> = [['Phase', h.phase.replace('_', ' ')]];
  const open = h.listeners.filter((l) => l.open).map((l) => l.name);
  const closed = h.listeners.filter((l) => !l.open).map((l) => (l.enabled ? l.name : `${l.name} (disabled)`));
  pairs.push(['Listeners open', open.length ? open.join(', ') : 'none']);
  if (closed.length) pairs.push(['Listeners closed', closed.join(', ')]);
  for (const p of h.criticalPools) pairs.push([`Critical pool ${p.pool}`, `${p.up}/${p.total} up`]);
  lines.push(keyValues(pairs));
  return lines.join('\n');
}
