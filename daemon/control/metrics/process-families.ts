// Daemon-wide metric families: build info, the process and its worker threads,
// reloads and the built-in alerts.
import { ALERT_NAMES } from '../alerts/condition.js';
import { VERSION } from '../../version.js';
import type { FamilyDef, Sample } from './family.js';
import type { ScrapeView } from './scrape.js';

type Def = FamilyDef<ScrapeView>;

function single(name: string, help: string, type: 'counter' | 'gauge', value: (v: ScrapeView) => number): Def {
  return { name, help, type, read: (v) => [{ labels: {}, value: value(v) }] };
}

function perWorker(
  name: string,
  help: string,
  type: 'counter' | 'gauge',
  value: (w: ScrapeView['snap']['workers'][number]) => number,
): Def {
  return {
    name,
    help,
    type,
    read: (v) => v.snap.workers.map((w) => ({ labels: { worker: String(w.id) }, value: value(w) })),
  };
}

export const PROCESS_FAMILIES: Def[] = [
  {
    name: 'netmon_build_info',
    help: 'Always 1; labels carry the netmon and Node.js versions.',
    type: 'gauge',
    read: () => [{ labels: { version: VERSION, node: process.version }, value: 1 }],
  },
  single(
    'netmon_start_time_seconds',
    'Start time of the daemon, seconds since the epoch.',
    'gauge',
    (v) => v.table.header.startTime() / 1000,
  ),
  single(
    'netmon_config_generation',
    'Config generation: 1 at start, +1 per applied reload or discovery change.',
    'gauge',
    (v) => v.snap.info.generation,
  ),
  {
    name: 'netmon_reloads_total',
    help: 'Config reloads, by result (success, failure).',
    type: 'counter',
    read: (v) => {
      const r = v.table.header.reloadStats();
      return [
        { labels: { result: 'success' }, value: r.reloads },
        { labels: { result: 'failure' }, value: r.failures },
      ];
    },
  },
  single(
    'netmon_last_reload_success',
    '1 when the last reload was applied whole (or none happened), 0 when it was refused or applied in part.',
    'gauge',
    (v) => (v.snap.info.lastReload === null || v.snap.info.lastReload.ok ? 1 : 0),
  ),
  single(
    'netmon_last_reload_timestamp_seconds',
    'Time of the last reload attempt, seconds since the epoch; 0 before the first.',
    'gauge',
    (v) => (v.snap.info.lastReload === null ? 0 : v.snap.info.lastReload.time / 1000),
  ),
  single(
    'netmon_process_cpu_seconds_total',
    'CPU time (user + system) of the whole daemon process, all threads.',
    'counter',
    () => {
      const c = process.cpuUsage();
      return (c.user + c.system) / 1e6;
    },
  ),
  single(
    'netmon_process_cpu_usage_ratio',
    'CPU used by the daemon over the last second, in cores (1 = one core busy).',
    'gauge',
    (v) => v.snap.process.cpu,
  ),
  single(
    'netmon_process_resident_memory_bytes',
    'Resident set size of the daemon process.',
    'gauge',
    (v) => v.snap.process.rssBytes,
  ),
  single(
    'netmon_process_heap_used_bytes',
    'V8 heap in use on the main thread.',
    'gauge',
    (v) => v.snap.process.heapUsedBytes,
  ),
  single(
    'netmon_process_open_fds',
    'File descriptors open in the daemon process (all threads); -1 when they cannot be counted.',
    'gauge',
    (v) => v.snap.process.openFds,
  ),
  single(
    'netmon_process_max_fds',
    'The limit on open file descriptors (RLIMIT_NOFILE, LimitNOFILE=); -1 when unlimited.',
    'gauge',
    (v) => v.snap.process.maxFds ?? -1,
  ),
  {
    name: 'netmon_fd_exhaustion_total',
    help:
      'Times the daemon met its file descriptor limit (EMFILE/ENFILE), by what: accept_paused (a worker stopped ' +
      'accepting), backend_connect (a client refused; not counted against the backend), health_probe (a probe ' +
      'not made; not counted against the backend).',
    type: 'counter',
    read: (v) => {
      const sum = (f: (w: ScrapeView['snap']['workers'][number]) => number): number =>
        v.snap.workers.reduce((n, w) => n + f(w), 0);
      return [
        { labels: { what: 'accept_paused' }, value: sum((w) => w.fdAcceptPauses) },
        { labels: { what: 'backend_connect' }, value: sum((w) => w.fdConnectFailures) },
        { labels: { what: 'health_probe' }, value: v.snap.process.probesWithoutFds },
      ];
    },
  },
  {
    name: 'netmon_stop_resets_total',
    help:
      'Clients a stop reset, by what: connection (open connections cut when drain_timeout expired or at a second ' +
      'stop signal; each has an access line with termination shutdown), accept_queue (clients waiting in the accept ' +
      'queue of a listening socket the stop closed, reset by the kernel, never accepted).',
    type: 'counter',
    read: (v) => [
      { labels: { what: 'connection' }, value: v.snap.workers.reduce((n, w) => n + w.stopCut, 0) },
      { labels: { what: 'accept_queue' }, value: v.snap.workers.reduce((n, w) => n + w.stopQueueReset, 0) },
    ],
  },
  single(
    'netmon_process_event_loop_lag_seconds',
    'Event-loop lag of the main thread: the longest its loop was blocked (a timer ran late) over the last second; about 0 when idle.',
    'gauge',
    (v) => v.snap.process.loopLagMs / 1000,
  ),
  perWorker('netmon_worker_up', '1 while the worker thread runs.', 'gauge', (w) => (w.alive ? 1 : 0)),
  perWorker(
    'netmon_worker_starts_total',
    'Times the worker thread was started (1 + restarts).',
    'counter',
    (w) => w.starts,
  ),
  perWorker(
    'netmon_worker_native_relay',
    '1 while the worker relays with the native relay, 0 with Node sockets ([data] relay = "js", or the native relay did not load).',
    'gauge',
    (w) => (w.nativeRelay ? 1 : 0),
  ),
  perWorker(
    'netmon_worker_cpu_seconds_total',
    'CPU time (user + system) of the worker thread.',
    'counter',
    (w) => w.cpuSeconds,
  ),
  perWorker(
    'netmon_worker_event_loop_lag_seconds',
    'Event-loop lag of the worker thread: the longest its loop was blocked (a timer ran late) between its last two heartbeats (about 1 s); about 0 when idle.',
    'gauge',
    (w) => w.loopLagMs / 1000,
  ),
  perWorker(
    'netmon_internal_errors_total',
    'Exceptions inside netmon: each reset the one connection on whose path it was thrown (the worker went on), or ended the worker (which reset its connections and was restarted).',
    'counter',
    (w) => w.internalErrors,
  ),
  perWorker(
    'netmon_worker_accept_paused',
    '1 while the worker does not accept: the process is short of file descriptors.',
    'gauge',
    (w) => (w.acceptPaused ? 1 : 0),
  ),
  perWorker(
    'netmon_worker_active_connections',
    'Client connections the worker thread holds now.',
    'gauge',
    (w) => w.active,
  ),
  perWorker(
    'netmon_worker_connections_total',
    'Client connections the worker thread accepted.',
    'counter',
    (w) => w.accepted,
  ),
  perWorker(
    'netmon_worker_access_refusals_suppressed_total',
    'Access lines of refused connections the worker counted instead of writing (over its refusal line rate).',
    'counter',
    (w) => w.accessSuppressed,
  ),
  {
    name: 'netmon_alerts_firing',
    help: 'Built-in alerts firing now, by alert name.',
    type: 'gauge',
    read: (v) => countAlerts(v, 'firing'),
  },
  {
    name: 'netmon_alerts_pending',
    help: 'Built-in alerts whose condition holds but not yet for alerts.for, by alert name.',
    type: 'gauge',
    read: (v) => countAlerts(v, 'pending'),
  },
  {
    name: 'netmon_alert_active',
    help: 'One series per pending or firing built-in alert (value 1), labelled with what it is about.',
    type: 'gauge',
    read: (v) =>
      v.snap.alerts
        .filter((a) => a.state !== 'resolved')
        .map((a) => ({
          labels: { alert: a.name, subject: a.subject, state: a.state, severity: a.severity },
          value: 1,
        })),
  },
];

function countAlerts(v: ScrapeView, state: 'firing' | 'pending'): Sample[] {
  const counts = new Map<string, number>(ALERT_NAMES.map((n) => [n, 0]));
  for (const a of v.snap.alerts) if (a.state === state) counts.set(a.name, (counts.get(a.name) ?? 0) + 1);
  return [...counts].map(([alert, value]) => ({ labels: { alert }, value }));
}
