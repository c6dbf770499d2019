// The validated, fully defaulted config. load.ts produces it; nothing downstream
// re-checks a field or handles `undefined` for a defaulted key.

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

/** host:port, resolved at load time. `host` is an IP literal or a name (backends only). */
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

export interface HealthTiming {
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
  /** consecutive connect failures seen by workers that mark a backend down; 0 = off */
  consecutiveFailures: number;
  /** at most this share (0..1) of a pool's backends may be down by passive ejection */
  maxEjectedShare: number;
}

export interface BackendConfig {
  name: string;
  /** "pool/name": stable across reloads */
  key: string;
  address: Address;
  weight: number;
  /** 0 = unlimited */
  maxConnections: number;
  backup: boolean;
}

export interface PoolTimeouts {
  /** ms */
  connect: number;
  /** ms without a byte either way before the connection is closed */
  idle: number;
  /** ms a connection may wait for a free backend slot when all are at max_connections; 0 = no queue */
  queue: number;
}

export interface PoolConfig {
  name: string;
  algorithm: AlgorithmName;
  retries: number;
  /** ms; 0 = off */
  slowStart: number;
  timeouts: PoolTimeouts;
  health: HealthCheck;
  passive: PassiveHealth;
  /** bounded queue length when every backend is at max_connections */
  queueSize: number;
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
  /** ms the daemon waits for connections to finish on a graceful stop */
  drainTimeout: number;
  listeners: ListenerConfig[];
  pools: PoolConfig[];
}
