// The validated, fully defaulted config. load.ts produces it; nothing downstream
// re-checks a field or handles `undefined` for a defaulted key, and nothing
// parses text again: addresses and ranges are typed (ip.ts), durations are ms,
// sizes are bytes, server names are lower case, enums are their words. Every
// value is plain data, so the parts a worker needs cross postMessage unchanged.
import type { IpRange } from '../net/ip.js';
import type { AdminStateName, RouteProtocol } from '../state/names.js';

export const ALGORITHMS = [
  'round_robin',
  'weighted_round_robin',
  'least_connections',
  'least_response_time',
  'ip_hash',
  'random_two',
  'adaptive',
] as const;
export type AlgorithmName = (typeof ALGORITHMS)[number];

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const HEALTH_TYPES = ['none', 'tcp', 'send_expect', 'http'] as const;

/** PROXY protocol accepted on a listener: "any" takes v1 or v2, whichever arrives */
export const PROXY_PROTOCOL_MODES = ['off', 'v1', 'v2', 'any'] as const;
type ProxyProtocolMode = (typeof PROXY_PROTOCOL_MODES)[number];

/** PROXY protocol header a pool writes to its backends before the first client byte */
export const SEND_PROXY_MODES = ['off', 'v1', 'v2'] as const;
type SendProxyMode = (typeof SEND_PROXY_MODES)[number];

/**
 * What a pool retries (HAProxy's `retry-on`), on another backend while one is left untried:
 * `connect_failure`: a connect that failed, or a backend that closed or reset
 * within timeouts.connect of accepting, before either side sent a byte;
 * `empty_response`: a backend that closed or reset (or passed timeouts.first_byte)
 * without sending a byte after the client's first bytes, which are then replayed
 * from a buffer of retry_buffer bytes. Only for requests that are safe to send twice.
 */
export const RETRY_CONDITIONS = ['connect_failure', 'empty_response'] as const;
type RetryCondition = (typeof RETRY_CONDITIONS)[number];

/**
 * host:port. `host` is an IP literal, or a name (backends only): a name is a DNS
 * discovery source (docs/discovery.md), never resolved on a connection's path.
 */
export interface Address {
  host: string;
  port: number;
  /** as written in the config, for messages and display */
  text: string;
}

export type HealthCheck =
  | { type: 'none' }
  | (HealthTiming & { type: 'tcp' })
  | (HealthTiming & { type: 'send_expect'; send: string; expect: string | RegExp })
  | (HealthTiming & { type: 'http'; path: string; expectStatus: number; host: string });

interface HealthTiming {
  /** milliseconds between probes of one backend */
  interval: number;
  /** milliseconds before a probe counts as failed */
  timeout: number;
  /** consecutive successes that bring a down backend up */
  rise: number;
  /** consecutive failures that take an up backend down */
  fall: number;
}

export interface PassiveHealth {
  /** consecutive failed connections seen by workers (connect errors, empty responses, first-byte timeouts) that mark a backend down; 0 = off */
  consecutiveFailures: number;
  /** at most this share (0..1) of a pool's backends may be down by passive ejection */
  maxEjectedShare: number;
}

export interface BackendConfig {
  /** as written; a discovered backend's is "<source name>#<ip>:<port>" (DNS) or its etcd key's last part */
  name: string;
  /** "pool/name": stable across reloads and across refreshes of a discovery source */
  key: string;
  /**
   * In a running config, always an IP literal and a port. In the file a host
   * name too: the backend is then a DNS source (one backend per address).
   * Empty (host "", port 0) for an SRV source.
   */
  address: Address;
  /** an SRV name ("_app._tcp.internal") the backends come from; null for an address */
  srv: string | null;
  weight: number;
  /** 0 = unlimited */
  maxConnections: number;
  backup: boolean;
  /** set on backends a discovery source produced; null for those written in the file with an IP address */
  discovered: DiscoveredFrom | null;
}

/** Where a discovered backend came from. */
interface DiscoveredFrom {
  /** the source as `show pools` names it: "dns app.internal:8080", "srv _app._tcp.internal", "etcd /netmon/web/" */
  source: string;
  /** the DNS name whose record gave the address (an HTTP check's default Host); "" for etcd */
  host: string;
  /** admin state the source asks for (an etcd entry's "state"); null: left to the operator */
  admin: AdminStateName | null;
  /** the source's identity inside netmon (control/discovery/specs.ts) */
  sourceId: string;
}

export interface PoolTimeouts {
  /** ms */
  connect: number;
  /** ms without a byte either way before the connection is closed */
  idle: number;
  /** ms a queued connection waits for a free backend slot (the queue is off when queueSize is 0) */
  queue: number;
  /**
   * ms from the first client byte relayed to a backend until its first byte; past it the
   * backend counts as failed (passive health) and the connection is retried or reset. 0 = off.
   */
  firstByte: number;
}

export interface AdaptiveTiming {
  /** ms between evaluations */
  window: number;
  /** consecutive windows that must agree before a switch */
  confirm: number;
  /** ms a strategy is kept at least */
  minDwell: number;
}

export interface PoolConfig {
  name: string;
  algorithm: AlgorithmName;
  /**
   * further attempts after a failure `retryOn` names: on backends not tried yet,
   * then on the tried ones again (a one-backend pool retries its backend), after
   * a turnaround of min(timeouts.connect, 1 s) on the one that just failed (HAProxy's `retries`)
   */
  retries: number;
  /** what is retried; empty = nothing */
  retryOn: RetryCondition[];
  /** bytes of client data kept for an `empty_response` replay; a client that sent more is not replayed */
  retryBuffer: number;
  /** ms; 0 = off */
  slowStart: number;
  timeouts: PoolTimeouts;
  health: HealthCheck;
  passive: PassiveHealth;
  /** bounded queue length when every backend is at max_connections; 0 = no queue */
  queueSize: number;
  /** PROXY protocol header written to the backend before relaying */
  sendProxy: SendProxyMode;
  /** how `adaptive` decides: evaluation window, agreeing windows needed, least time between switches */
  adaptive: AdaptiveTiming;
  /** the instance reports unhealthy while this pool has no backend up */
  critical: boolean;
  /** `address = "name:port"` on the pool: every address of the name is a backend; null = none */
  address: Address | null;
  /** `srv = "_service._proto.name"` on the pool: every SRV target is a backend; null = none */
  srv: string | null;
  /** `etcd_prefix` on the pool: one backend per key under it ([etcd] endpoints); null = none */
  etcdPrefix: string | null;
  /** in the file: the [[pool.NAME.backend]] blocks; in a running config: every concrete backend, discovered ones included */
  backends: BackendConfig[];
}

export interface ListenerConfig {
  name: string;
  bind: Address;
  pool: string;
  /** 0 = unlimited */
  maxConnections: number;
  /** kernel accept backlog */
  backlog: number;
  timeouts: ListenerTimeouts;
  /** connection admission, PROXY protocol in, peek and routing; every part defaults to off */
  edge: EdgeConfig;
}

interface ListenerTimeouts {
  /** ms without a byte from the client before the connection is closed; 0 = only the pool's idle timeout */
  clientIdle: number;
}

/**
 * An IPv4 or IPv6 network as plain data: {family, bytes, prefix}, host bits zero;
 * a range written inside ::ffff:0:0/96 is held as the IPv4 range it denotes.
 * Parsed by net/ip.ts (ipaddr.js), the one parser of addresses.
 */
export type Cidr = IpRange;

/** Route by the TLS ClientHello server name: exact ("api.example.com") or one-label wildcard ("*.example.com"); lower case. */
interface SniRoute {
  match: 'sni';
  sni: string;
  pool: string;
}

/** Route by the protocol the first bytes look like. */
interface ProtocolRoute {
  match: 'protocol';
  protocol: RouteProtocol;
  pool: string;
}

export type RouteConfig = SniRoute | ProtocolRoute;

/** Per-source admission limits; a source is the client address masked to prefixV4 / prefixV6 bits. */
export interface SourceLimits {
  /** concurrent connections per source; 0 = off */
  maxConnections: number;
  /** new connections per second per source (token bucket refill); 0 = off */
  rate: number;
  /** token bucket size; filled with max(1, ceil(rate)) when the file says 0 */
  burst: number;
  prefixV4: number;
  prefixV6: number;
  /** at most this many sources are tracked; the least recently seen is forgotten first */
  tableSize: number;
}

export interface EdgeConfig {
  /** PROXY header expected from the client; only sources in trustedProxies may send one */
  proxyProtocol: ProxyProtocolMode;
  trustedProxies: Cidr[];
  /** when non-empty, only these sources are accepted */
  allow: Cidr[];
  /** refused even when allowed */
  deny: Cidr[];
  /**
   * ms to wait for the first bytes before routing; 0 = no peek. Defaults to 1000 when
   * routes exist. Without routes nothing waits: the protocol is read from the first
   * bytes either side sends while relaying.
   */
  inspectDelay: number;
  /** at most this many bytes are peeked (default: one full TLS record and its header, 16389) */
  inspectBytes: number;
  /** first match wins; no match = the listener's pool */
  routes: RouteConfig[];
  sourceLimits: SourceLimits;
}

/** Built-in alert thresholds. A threshold of 0 turns its rule off. */
export interface AlertsConfig {
  /** ms between evaluations */
  interval: number;
  /** ms a condition must hold (pending) before the alert fires */
  for: number;
  /**
   * ms a condition must have been absent before its alert resolves (hysteresis;
   * Prometheus's keep_firing_for). backend_down is exempt: health's `rise` holds it.
   */
  keepFiringFor: number;
  /** ms; a backend's connect+first-byte p95 above this fires high_latency */
  latencyP95: number;
  /** daemon process CPU, percent of one core (may exceed 100 with several workers) */
  cpuPercent: number;
  /** daemon RSS in bytes */
  memoryBytes: number;
  /** agent-reported backend CPU, percent */
  agentCpuPercent: number;
  /** agent-reported backend memory, percent */
  agentMemoryPercent: number;
  /** a connection rate over spikeFactor x the moving baseline is a spike */
  spikeFactor: number;
  /** conn/s below which no spike is reported */
  spikeMinRate: number;
  /** ms over which the baseline rate is averaged */
  baselineWindow: number;
  /** coefficient of variation of weight-normalised connections above which a pool is imbalanced */
  imbalanceCv: number;
  /** a pool needs this many connections in the window before imbalance is judged */
  imbalanceMinConnections: number;
}

/** Which relay moves a connection's bytes once its backend is picked (docs/benchmarks.md). */
export const RELAY_MODES = ['auto', 'js', 'native'] as const;
export type RelayMode = (typeof RELAY_MODES)[number];

interface DataConfig {
  /**
   * native: the relay built from daemon/data/native/ (accepts, connects and
   * relays in an epoll loop per worker); js: Node sockets; auto: native when
   * it loads, else js (logged and counted)
   */
  relay: RelayMode;
}

/** Address families a DNS source takes: "any" makes a backend of every A and AAAA record. */
export const RESOLVE_FAMILIES = ['any', 'ipv4', 'ipv6'] as const;
type ResolveFamily = (typeof RESOLVE_FAMILIES)[number];

/**
 * [resolvers]: how backend names and SRV names are resolved, on the main thread,
 * in the background (as HAProxy's `resolvers` section: hold, timeout resolve/retry,
 * resolve_retries).
 */
export interface ResolversConfig {
  /** "ip:port" name servers; [] = the system's (getaddrinfo for A/AAAA, /etc/resolv.conf's servers for SRV) */
  nameservers: Address[];
  family: ResolveFamily;
  /** queries sent before a resolution counts as a timeout */
  resolveRetries: number;
  timeouts: {
    /** ms: least time between two resolutions of a name (a TTL under it is raised to it); also the retry after a failure */
    resolve: number;
    /** ms: how long one query waits for an answer before it is sent again */
    retry: number;
  };
  hold: {
    /** ms: the longest a valid answer is used before it is asked again (a TTL over it is cut to it) */
    valid: number;
    /** ms: the last good set is kept this long after the name stopped existing (NXDOMAIN, no records) */
    nx: number;
    /** ms: ... after no server answered */
    timeout: number;
    /** ms: ... after a server refused or failed (REFUSED, SERVFAIL, any other error) */
    refused: number;
  };
}

/** [etcd]: the cluster pools with `etcd_prefix` watch, and `ctl ... --fleet` writes to. */
export interface EtcdConfig {
  /** "http://host:port" client URLs; [] = no etcd */
  endpoints: string[];
  /** ms one request (a read, a fleet write) or a connection attempt may take */
  timeout: number;
  /** ms between two attempts to restore a lost watch, at most (the backoff starts at 100 ms) */
  retryMax: number;
  /** "" = no authentication */
  username: string;
  password: string;
}

export interface LimitsConfig {
  maxListeners: number;
  maxPools: number;
  maxBackends: number;
}

export interface Config {
  /** file it was read from, or "<embedded default>" */
  source: string;
  workers: number;
  control: { socket: string };
  metrics: { listen: Address | null };
  log: { level: LogLevel; access: boolean };
  limits: LimitsConfig;
  data: DataConfig;
  /** ms the daemon waits for connections to finish on a graceful stop */
  drainTimeout: number;
  /**
   * ms a graceful stop first reports unhealthy (/healthz, `show health`) while still
   * accepting, so keepalived or a BGP speaker moves the traffic away before the
   * listeners close; 0 = close them at once
   */
  announceDrain: number;
  /** open client connections over all listeners; 0 = unlimited */
  maxConnections: number;
  alerts: AlertsConfig;
  resolvers: ResolversConfig;
  etcd: EtcdConfig;
  listeners: ListenerConfig[];
  pools: PoolConfig[];
}
