// One watched backend as the health checker keeps it, shared by its parts: the
// checker (lifecycle, the op-state writer), the active prober and the passive
// ejector. Only the checker changes a backend's op state; the other two ask it
// through `StateWriter`.
import type { HealthCheck, PassiveHealth } from '../../config/schema.js';
import type { Cause, OpState } from '../../state/names.js';
import type { ProbeTarget } from './probe-types.js';
import type { TimerHandle } from './timers.js';

/** One backend as the checker needs it; the health service builds these from the config. */
export interface HealthBackend {
  /** backend slot in the state table */
  slot: number;
  /** "pool/name" */
  key: string;
  /** pool name: passive ejection's cap counts the backends of one pool */
  pool: string;
  address: ProbeTarget;
  check: HealthCheck;
  /** ms; 0 = a recovered backend goes straight to Up */
  slowStartMs: number;
  /** the pool's passive settings; omitted = `DEFAULT_MAX_EJECTED_SHARE` (passive.ts) */
  passive?: PassiveHealth;
}

export interface Tracked {
  e: HealthBackend;
  /** signed rise/fall progress, mirrored in the table */
  count: number;
  /** the next probe, or null */
  timer: TimerHandle | null;
  /** the probe in flight, or null; a result whose controller is no longer this one is ignored */
  inFlight: AbortController | null;
  /** now() when the last probe started, ms */
  probeStart: number;
  passiveEjected: boolean;
  /** passive ejections refused by the pool's max_ejected_share since this backend was adopted */
  passiveRefused: number;
  /** the passive cool-down (pools without an active check), or null */
  cooldown: TimerHandle | null;
  /** the last probe's detail ("" before the first) */
  detail: string;
  /** removed by a reload or stop: late timers and results are dropped */
  gone: boolean;
}

export function tracked(e: HealthBackend): Tracked {
  return {
    e,
    count: 0,
    timer: null,
    inFlight: null,
    probeStart: 0,
    passiveEjected: false,
    passiveRefused: 0,
    cooldown: null,
    detail: '',
    gone: false,
  };
}

/** What the prober and the ejector ask of the checker, the one writer of op state. */
export interface StateWriter {
  transition(rec: Tracked, to: OpState, cause: Cause, detail: string): void;
  setCount(rec: Tracked, n: number): void;
  /** the checker was stopped: no new probe, no transition */
  readonly stopped: boolean;
}
