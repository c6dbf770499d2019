// Defaults of config keys that are also needed outside their section reader
// (the CLI's socket choice, services built without a config in tests). Each
// value is written here once; the readers and those services import it.
import type { AdaptiveTiming, PassiveHealth, ResolversConfig } from './schema.js';

/** [control] socket: the packaged service's socket (systemd RuntimeDirectory=netmon) */
export const DEFAULT_CONTROL_SOCKET = '/run/netmon/netmon.sock';
/** [control] socket of the embedded demo config (config/default.ts) */
export const DEMO_CONTROL_SOCKET = '/tmp/netmon.sock';
/** [metrics] listen, read by the same address parser as a written value */
export const DEFAULT_METRICS_LISTEN = '127.0.0.1:9469';
/** [pool.NAME.health]: ms between probes, ms before a probe fails, successes to rise, failures to fall */
export const DEFAULT_HEALTH = { interval: 2000, timeout: 1000, rise: 2, fall: 3 } as const;
/** [pool.NAME.passive] */
export const DEFAULT_PASSIVE: Readonly<PassiveHealth> = { consecutiveFailures: 3, maxEjectedShare: 0.5 };
/** [pool.NAME.adaptive]: window and min_dwell in ms */
export const DEFAULT_ADAPTIVE: Readonly<AdaptiveTiming> = { window: 5000, confirm: 2, minDwell: 20_000 };
/** [resolvers]: HAProxy's resolvers defaults (hold valid 10s, other holds 30s, timeouts 1s, 3 tries) */
export const DEFAULT_RESOLVERS: Readonly<ResolversConfig> = {
  nameservers: [],
  family: 'any',
  resolveRetries: 3,
  timeouts: { resolve: 1000, retry: 1000 },
  hold: { valid: 10_000, nx: 30_000, timeout: 30_000, refused: 30_000 },
};
/** [pool.NAME] retry_buffer: bytes of client data kept for an empty_response replay */
export const DEFAULT_RETRY_BUFFER = 16 * 1024;
/** [[listener]] inspect_bytes: one full TLS record (2^14 bytes, RFC 8446 5.1) and its 5-byte header */
export const DEFAULT_INSPECT_BYTES = 16384 + 5;
