// The daemon's state as plain JSON: what the control socket (`show ...`,
// `subscribe`), the metrics port's /stats and the dashboard consume. Built on the
// main thread from the state table; rates are computed here, once, so that no
// consumer computes traffic statistics itself.
//
// Subscribe protocol (control socket): request
//   {"id":7,"cmd":"subscribe","args":{"interval":1000}}      (text: `subscribe 1000`)
// then, until the client closes, one line per message:
//   {"id":7,"ok":true,"data":{"type":"snapshot","snapshot":Snapshot}}   every interval
//   {"id":7,"ok":true,"data":{"type":"event","event":DaemonEvent}}      as they happen
import type { AdminStateName, CauseName, CheckResultName, OpStateName } from '../../state/names.js';
import type { HealthReport } from '../service-health.js';

export interface Percentiles {
  /** milliseconds; NaN-free: 0 when there are no samples */
  p50: number;
  p95: number;
  p99: number;
}

export interface Rates {
  /** per second, over the last sampling window (about 1 s) */
  connections: number;
  bytesIn: number;
  bytesOut: number;
  errors: number;
  retries: number;
}

export interface BackendSnapshot {
  /** "pool/name" */
  key: string;
  pool: string;
  name: string;
  address: string;
  admin: AdminStateName;
  op: OpStateName;
  /** why the state last changed */
  cause: CauseName;
  /** ms since epoch */
  lastChange: number;
  weight: number;
  effectiveWeight: number;
  backup: boolean;
  active: number;
  maxConnections: number;
  connections: number;
  bytesIn: number;
  bytesOut: number;
  connectErrors: { refused: number; timeout: number; other: number };
  retries: number;
  passiveFailures: number;
  /** passive ejections refused because the pool was at passive.max_ejected_share */
  passiveEjectionsRefused: number;
  /** relayed connections reset by the client / by the backend */
  resets: { client: number; backend: number };
  /** connections the backend took and failed: closed before any byte, nothing within timeouts.first_byte */
  responseErrors: { empty: number; timeout: number };
  rates: Rates;
  ewmaConnectMs: number;
  ewmaFirstByteMs: number;
  connectMs: Percentiles;
  firstByteMs: Percentiles;
  check: { type: string; result: CheckResultName; durationMs: number; time: number; detail: string };
  /** agent data reported by an http health check's JSON body; null fields not reported */
  agent: { cpu: number | null; memory: number | null; connections: number | null };
  /** true while the backend is removed from the config and finishing its connections */
  removed: boolean;
  /** the discovery source it came from ("dns app.internal:8080", "etcd /netmon/web/"); null: written in the config */
  source: string | null;
  /** state-table slot; lets the metrics registry read raw histograms. Main thread only. */
  slot?: number;
}

export interface PoolSnapshot {
  name: string;
  /** configured (or set at run time) algorithm */
  algorithm: string;
  /** the strategy in use: differs from `algorithm` only for adaptive */
  activeAlgorithm: string;
  adaptiveSwitches: number;
  /** adaptive only: why the pool uses activeAlgorithm now (the policy's latest reason); null otherwise */
  adaptiveReason: string | null;
  retries: number;
  queued: number;
  backends: string[];
  up: number;
  total: number;
  rates: Rates;
  /** where its backends come from besides the config's IP addresses; [] when only from there */
  discovery: DiscoverySnapshot[];
}

/**
 * One discovery source of a pool. `state`: pending (no answer yet), ok (the last
 * refresh succeeded), failing (the last refresh failed; the last good set is
 * kept, for DNS until the hold time of the failure runs out), expired (failing
 * past the hold time: its backends were removed).
 */
export interface DiscoverySnapshot {
  kind: 'dns' | 'srv' | 'etcd';
  /** what is asked: "app.internal:8080", "_app._tcp.internal", "/netmon/web/" */
  target: string;
  /** "dns app.internal:8080": the name backends' `source` and events give it */
  source: string;
  /** the config key that asks for it: "pool.web.address", "pool.web.backend[2].srv" */
  path: string;
  state: 'pending' | 'ok' | 'failing' | 'expired';
  /** backends in its last good set */
  backends: number;
  /** ms since epoch; null before the first */
  lastRefresh: number | null;
  lastSuccess: number | null;
  /** the next DNS question; null for etcd (a watch) */
  nextRefresh: number | null;
  /** the last failure ("timeout: app.internal A: ETIMEOUT") while failing, else null */
  error: string | null;
  refreshes: number;
  /** failed refreshes by reason */
  failures: { nx: number; timeout: number; refused: number; invalid: number; disconnected: number };
  /** backends it added, removed and re-weighted since it started */
  changes: { added: number; removed: number; reweighted: number };
}

export interface ListenerSnapshot {
  name: string;
  /** the address it is bound on as configured: a port 0 shows the one port every worker was given */
  bind: string;
  /** `bind` as the config writes it ("127.0.0.1:0") */
  configuredBind: string;
  pool: string;
  enabled: boolean;
  active: number;
  maxConnections: number;
  accepted: number;
  bytesIn: number;
  bytesOut: number;
  rejected: Record<string, number>;
  protocols: Record<string, number>;
  /** routing peeks that ended without a verdict, by reason (too_large, timeout, ...) */
  peekMisses: Record<string, number>;
  /** connections reset by the client / by the backend */
  resets: Record<string, number>;
  rates: Rates;
  /** where workers actually accept for it: `bind`, a previous bind kept after a failed move, or null (not served) */
  serving: string | null;
  /** why it is not served as configured ("bind 127.0.0.1:80: listen EADDRINUSE: ... [E_LISTEN]"), or null */
  error: string | null;
  /** state-table slot; lets the metrics registry read the table directly. Main thread only. */
  slot?: number;
}

export interface WorkerSnapshot {
  id: number;
  threadId: number;
  alive: boolean;
  starts: number;
  active: number;
  accepted: number;
  /** ms: the longest the worker's event loop was blocked in its last heartbeat window (about 1 s; ../../loop-lag.ts) */
  loopLagMs: number;
  cpuSeconds: number;
  /** relays with the native relay; false: with Node sockets ([data] relay, or the native relay did not load) */
  nativeRelay: boolean;
  /** the native relay waits in the event loop's place (every listener accepts in it; docs/relay.md) */
  relayInPlace: boolean;
  /** access lines of refused connections counted instead of written (the worker's refusal line bound) */
  accessSuppressed: number;
  /** exceptions inside netmon on this worker: one connection reset for each, or the worker ended */
  internalErrors: number;
  /** times it stopped accepting for want of file descriptors */
  fdAcceptPauses: number;
  /** backend connects that failed with EMFILE/ENFILE (not counted against the backend) */
  fdConnectFailures: number;
  /** not accepting now: out of file descriptors */
  acceptPaused: boolean;
  /**
   * the soft file descriptor limit the worker pauses accepting by, as it last
   * read it (fresher than the main thread's when it was lowered at the limit);
   * null when unlimited or not read yet
   */
  fdLimit: number | null;
  /** open connections a stop cut with a reset: drain_timeout expired, or a second stop signal */
  stopCut: number;
  /** clients in the accept queues of the listening sockets the stop closed, reset by the kernel */
  stopQueueReset: number;
}

/**
 * What a reload did. `applied`: the new config runs whole. `partial`: it runs,
 * except what its errors name (a listener that could not be opened, E_LISTEN);
 * `show listeners` says what each listener actually serves. `refused`: the
 * config was invalid; nothing changed.
 */
export type ReloadOutcome = 'applied' | 'partial' | 'refused';

export interface InfoSnapshot {
  name: 'netmon';
  version: string;
  pid: number;
  node: string;
  startTime: number;
  uptimeSeconds: number;
  workers: number;
  configFile: string;
  generation: number;
  reloads: number;
  reloadFailures: number;
  lastReload: { ok: boolean; outcome: ReloadOutcome; time: number; errors: string[] } | null;
  controlSocket: string;
  metricsListen: string | null;
  /** discovered sets not applied because they did not fit limits.max_backends */
  discoveryRefusals: number;
  /** the instance's health for routing tools, as /healthz and `show health` report it now */
  health: HealthReport;
}

export interface ProcessSnapshot {
  /** CPU share of one core over the last window, 0..N cores */
  cpu: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** ms: the longest the main thread's event loop was blocked in the last sample window (1 s; ../../loop-lag.ts) */
  loopLagMs: number;
  /** file descriptors open in the process (all threads); -1 when they cannot be counted */
  openFds: number;
  /** the soft limit on them (RLIMIT_NOFILE) as the main thread last read it; null when unlimited or unknown */
  maxFds: number | null;
  /** health probes not made for want of file descriptors (they say nothing of the backend) */
  probesWithoutFds: number;
}

type AlertState = 'pending' | 'firing' | 'resolved';

export interface AlertSnapshot {
  /** rule name: backend_down, high_latency, high_cpu, high_memory, fd_exhaustion, traffic_spike, poor_distribution, discovery_failed */
  name: string;
  /** what it is about: a backend key, a pool, "daemon" */
  subject: string;
  state: AlertState;
  severity: 'warning' | 'critical';
  message: string;
  /** ms since epoch */
  since: number;
  firedAt: number | null;
  resolvedAt: number | null;
  value: number;
  threshold: number;
}

export interface Snapshot {
  time: number;
  info: InfoSnapshot;
  process: ProcessSnapshot;
  workers: WorkerSnapshot[];
  listeners: ListenerSnapshot[];
  pools: PoolSnapshot[];
  backends: BackendSnapshot[];
  /** pending and firing, then recently resolved */
  alerts: AlertSnapshot[];
}

export type DiscoveryEventWhat =
  | 'added'
  | 'removed'
  | 'reweighted'
  | 'failed'
  | 'recovered'
  | 'expired'
  | 'invalid'
  | 'disconnected'
  | 'connected'
  | 'refused';

export type DaemonEvent =
  | {
      type: 'state';
      time: number;
      backend: string;
      /** an admin state for `ctl set state`, an operational state for health and passive changes */
      from: AdminStateName | OpStateName;
      to: AdminStateName | OpStateName;
      cause: CauseName;
      detail: string;
    }
  | { type: 'alert'; time: number; alert: AlertSnapshot }
  | {
      type: 'reload';
      time: number;
      ok: boolean;
      /** applied whole, partial (the config runs except what `errors` names), or refused (nothing changed) */
      outcome: ReloadOutcome;
      generation: number;
      errors: string[];
      changes: string[];
    }
  | { type: 'adaptive'; time: number; pool: string; from: string; to: string; reason: string }
  | {
      type: 'discovery';
      time: number;
      /** "*" when about every pool (a running config refused for capacity) */
      pool: string;
      /** "dns app.internal:8080", "srv _app._tcp.internal", "etcd /netmon/web/" */
      source: string;
      /**
       * added / removed / reweighted: a backend (`backend`); failed, recovered,
       * expired, invalid (an etcd entry refused), disconnected (etcd), refused
       * (the backends found do not fit limits.max_backends: not applied)
       */
      what: DiscoveryEventWhat;
      backend: string | null;
      detail: string;
    }
  | { type: 'action'; time: number; command: string; ok: boolean; message: string }
  | { type: 'worker'; time: number; worker: number; what: 'started' | 'exited' | 'restarted'; detail: string };
