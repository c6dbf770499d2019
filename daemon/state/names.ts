// The names of every state, reason and histogram the state table records, defined
// once. The table stores the numbers (the enums); the control socket, snapshots,
// metrics, alerts and the dashboard show the names (the lists, indexed by the
// enum value). A type such as AdminStateName is derived from its list, so a name
// added here reaches every union that spells it.

/** What an operator asked of a backend (`ctl set state`), as HAProxy's admin states. */
export const enum AdminState {
  Ready = 0,
  Drain = 1,
  Maint = 2,
}
/** Index = AdminState. */
export const ADMIN_NAMES = ['ready', 'drain', 'maint'] as const;
export type AdminStateName = (typeof ADMIN_NAMES)[number];

/** What health checks and passive detection found. */
export const enum OpState {
  Up = 0,
  Down = 1,
  /** recovered, ramping its weight up under slow start */
  Starting = 2,
}
/** Index = OpState. */
export const OP_NAMES = ['up', 'down', 'starting'] as const;
export type OpStateName = (typeof OP_NAMES)[number];

/** Why a backend's state last changed, as HAProxy records it. */
export const enum Cause {
  Config = 0,
  Health = 1,
  Passive = 2,
  Admin = 3,
  Reload = 4,
  SlowStart = 5,
  /** a discovery source added or removed it (DNS, etcd) */
  Discovery = 6,
  /** its etcd entry's "state" (`ctl set state ... --fleet`) */
  Fleet = 7,
}
/** Index = Cause. */
export const CAUSE_NAMES = [
  'config',
  'health',
  'passive',
  'admin',
  'reload',
  'slow_start',
  'discovery',
  'fleet',
] as const;
export type CauseName = (typeof CAUSE_NAMES)[number];

/** The last health probe's outcome. */
export const enum CheckResult {
  None = 0,
  Ok = 1,
  Failed = 2,
}
/** Index = CheckResult. */
export const CHECK_NAMES = ['none', 'ok', 'failed'] as const;
export type CheckResultName = (typeof CHECK_NAMES)[number];

/**
 * The one word the dashboard shows for a backend: an admin state other than
 * ready, or else its operational state.
 */
export type DisplayStateName = Exclude<AdminStateName, 'ready'> | OpStateName;

/** Upper bounds (seconds) of the latency histograms; a last +Inf bucket follows. */
export const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;
/** Upper bounds (seconds) of the connection duration histogram: milliseconds to hours. */
export const DURATION_BUCKETS = [0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600] as const;
/** The per-backend histograms: time to connect, to the backend's first byte, and the connection's life. */
export const enum Histogram {
  Connect = 0,
  FirstByte = 1,
  Duration = 2,
}
/** Index = Histogram. */
export const HISTOGRAM_NAMES = ['connect', 'first_byte', 'duration'] as const;
/** Bucket bounds (seconds) per histogram, index = Histogram. */
export const HISTOGRAM_BOUNDS: readonly (readonly number[])[] = [LATENCY_BUCKETS, LATENCY_BUCKETS, DURATION_BUCKETS];

/** Why a connect to a backend failed: ECONNREFUSED, connect timeout, anything else. */
export const CONNECT_ERROR_REASONS = ['refused', 'timeout', 'other'] as const;
export type ConnectErrorReason = (typeof CONNECT_ERROR_REASONS)[number];

/** Why a listener refused a client (counted per listener). */
export const REJECT_REASONS = [
  'max_connections',
  'no_backend',
  'queue_timeout',
  'acl',
  'rate_limit',
  'proxy_header',
  'disabled',
  /** the process was out of file descriptors (EMFILE/ENFILE) to connect to a backend */
  'fd_exhaustion',
  /**
   * its connect attempts failed (a refused or timed-out connect, and no attempt
   * left, or retry_on without connect_failure), while `no_backend` says no
   * backend was eligible to try (HAProxy's `SC` and `sC` against `<NOSRV>`)
   */
  'connect_failed',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** What the bounded peek at a connection's first bytes can recognise (and a route can match). */
export const ROUTE_PROTOCOLS = ['tls', 'http1', 'http2', 'ssh', 'other'] as const;
export type RouteProtocol = (typeof ROUTE_PROTOCOLS)[number];
/**
 * Protocols recognised from a server's greeting (the backend speaks first): a
 * MySQL/MariaDB handshake, an SMTP or FTP `220` line. Counted, never routed on:
 * the greeting comes after the backend is chosen. (An SSH server's banner is `ssh`.)
 */
const GREETING_PROTOCOLS = ['mysql', 'smtp', 'ftp'] as const;
/**
 * Protocols counted per listener: the route protocols, the server greetings, and
 * `unknown` when nothing was seen (or too little to tell).
 */
export const PROTOCOLS = [...ROUTE_PROTOCOLS, ...GREETING_PROTOCOLS, 'unknown'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/**
 * Why a peek that routes (a listener with routes) ended without a verdict, so the
 * connection went to the listener's pool: `too_large` (inspect_bytes read, the
 * ClientHello not complete), `timeout` (inspect_delay passed), `client_end` (the
 * client half-closed first), `not_tls` (a client that is not TLS on a listener
 * with server-name routes), `bad_hello` (a TLS record that is not a well-formed ClientHello).
 */
export const PEEK_MISS_REASONS = ['too_large', 'timeout', 'client_end', 'not_tls', 'bad_hello'] as const;
export type PeekMissReason = (typeof PEEK_MISS_REASONS)[number];

/** Which side of a relayed connection reset it (sent RST, or its socket failed). */
export const RESET_SIDES = ['client', 'backend'] as const;
export type ResetSide = (typeof RESET_SIDES)[number];

/**
 * A backend that took the connection and then failed it: `empty` (it closed or
 * reset before sending any byte, while the client still waited), `timeout`
 * (nothing within timeouts.first_byte of the client's first byte).
 */
export const RESPONSE_ERROR_REASONS = ['empty', 'timeout'] as const;
export type ResponseErrorReason = (typeof RESPONSE_ERROR_REASONS)[number];

/** Why a per-source entry refused a connection (counted on the entry). */
export const enum SourceReject {
  MaxConnections = 0,
  RateLimit = 1,
  /** ACL or PROXY header */
  Other = 2,
}
