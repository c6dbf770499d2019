// What a simulated backend does: its latency, error rate, CPU burn per request and
// the fault it is in. Validated once at the edge (flags, POST /_sim, setBehaviour);
// the request path reads the resulting plain object.
import { NetmonError } from '../daemon/errors.js';
import { parseDuration } from './duration.js';
import { formatLatency, NO_LATENCY, parseLatency, type LatencySpec } from './latency.js';

const FAULTS = ['none', 'refuse', 'hang', 'slow', 'close', 'crash', 'unhealthy'] as const;
/**
 * none       normal service
 * refuse     the listener is closed: new connects are refused (open ones keep working)
 * hang       connections are accepted and requests read, but never answered
 * slow       every answer waits `slowLatency` more (default 1 s)
 * close      answers stop half way: the connection is destroyed mid-response
 * crash      every connection is reset and the listener closed, like a killed process
 * unhealthy  GET /health answers 503 {"status":"fail"}; everything else works
 */
export type SimFault = (typeof FAULTS)[number];

const ERROR_SPREADS = ['random', 'even'] as const;
/** random: each request fails with probability errorRate; even: exactly floor(n * errorRate) of n fail */
type ErrorSpread = (typeof ERROR_SPREADS)[number];

export interface Behaviour {
  latency: LatencySpec;
  /** 0..1, share of application requests answered 500 (HTTP) or reset (TCP modes) */
  errorRate: number;
  errorSpread: ErrorSpread;
  /** milliseconds of busy CPU per application request */
  cpuBurnMs: number;
  fault: SimFault;
  /** extra latency while fault = slow */
  slowLatency: LatencySpec;
  /** default size in bytes of GET /api/data */
  dataSize: number;
}

/** What flags and POST /_sim may set; every field optional. */
export interface BehaviourPatch {
  latency?: string | number;
  errorRate?: number;
  errorSpread?: ErrorSpread;
  cpuBurn?: string | number;
  fault?: SimFault;
  /** the fault ends by itself after this long (back to "none") */
  faultFor?: string | number;
  slowLatency?: string | number;
  dataSize?: number;
}

export const MAX_DATA_SIZE = 16 * 1024 * 1024;

export function defaultBehaviour(): Behaviour {
  return {
    latency: NO_LATENCY,
    errorRate: 0,
    errorSpread: 'random',
    cpuBurnMs: 0,
    fault: 'none',
    slowLatency: { kind: 'fixed', ms: 1000 },
    dataSize: 1024,
  };
}

const PATCH_KEYS = new Set<string>([
  'latency',
  'errorRate',
  'errorSpread',
  'cpuBurn',
  'fault',
  'faultFor',
  'slowLatency',
  'dataSize',
]);

/**
 * Checks an untrusted object (parsed JSON) and returns it typed. Every problem is
 * reported in one E_BAD_ARGUMENT message, so a caller fixes them in one go.
 */
export function parsePatch(input: unknown): BehaviourPatch {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new NetmonError('E_BAD_ARGUMENT', 'behaviour must be a JSON object');
  }
  const rec = input as Record<string, unknown>;
  const problems: string[] = [];
  const out: BehaviourPatch = {};
  for (const key of Object.keys(rec)) {
    if (!PATCH_KEYS.has(key)) problems.push(`unknown key "${key}" (${[...PATCH_KEYS].join(', ')})`);
  }
  const durationish = (key: 'latency' | 'cpuBurn' | 'faultFor' | 'slowLatency'): void => {
    const v = rec[key];
    if (v === undefined) return;
    if (typeof v !== 'string' && typeof v !== 'number') problems.push(`${key}: must be a string or a number`);
    else out[key] = v;
  };
  durationish('latency');
  durationish('cpuBurn');
  durationish('faultFor');
  durationish('slowLatency');
  if (rec.errorRate !== undefined) {
    if (typeof rec.errorRate !== 'number') problems.push('errorRate: must be a number 0..1');
    else out.errorRate = rec.errorRate;
  }
  if (rec.dataSize !== undefined) {
    if (typeof rec.dataSize !== 'number') problems.push('dataSize: must be a number of bytes');
    else out.dataSize = rec.dataSize;
  }
  if (rec.fault !== undefined) {
    if (typeof rec.fault !== 'string' || !(FAULTS as readonly string[]).includes(rec.fault)) {
      problems.push(`fault: must be one of ${FAULTS.join(', ')}`);
    } else out.fault = rec.fault as SimFault;
  }
  if (rec.errorSpread !== undefined) {
    if (typeof rec.errorSpread !== 'string' || !(ERROR_SPREADS as readonly string[]).includes(rec.errorSpread)) {
      problems.push(`errorSpread: must be one of ${ERROR_SPREADS.join(', ')}`);
    } else out.errorSpread = rec.errorSpread as ErrorSpread;
  }
  if (problems.length > 0) throw new NetmonError('E_BAD_ARGUMENT', problems.join('; '));
  return out;
}

/**
 * The behaviour after applying a patch, and the fault duration if one was given.
 * Throws NetmonError (E_BAD_ARGUMENT, E_DURATION, E_RANGE) without changing anything.
 */
export function applyPatch(base: Behaviour, patch: BehaviourPatch): { behaviour: Behaviour; faultForMs?: number } {
  const next: Behaviour = { ...base };
  if (patch.latency !== undefined) next.latency = parseLatency(patch.latency, 'latency');
  if (patch.slowLatency !== undefined) next.slowLatency = parseLatency(patch.slowLatency, 'slowLatency');
  if (patch.cpuBurn !== undefined) {
    next.cpuBurnMs = parseDuration(patch.cpuBurn, 'cpuBurn');
    if (next.cpuBurnMs > 10_000) throw new NetmonError('E_RANGE', 'cpuBurn: at most 10s per request');
  }
  if (patch.errorRate !== undefined) {
    if (!Number.isFinite(patch.errorRate) || patch.errorRate < 0 || patch.errorRate > 1) {
      throw new NetmonError('E_RANGE', `errorRate: must be 0..1, got ${patch.errorRate}`);
    }
    next.errorRate = patch.errorRate;
  }
  if (patch.errorSpread !== undefined) next.errorSpread = patch.errorSpread;
  if (patch.dataSize !== undefined) {
    if (!Number.isInteger(patch.dataSize) || patch.dataSize < 0 || patch.dataSize > MAX_DATA_SIZE) {
      throw new NetmonError('E_RANGE', `dataSize: must be an integer 0..${MAX_DATA_SIZE}, got ${patch.dataSize}`);
    }
    next.dataSize = patch.dataSize;
  }
  if (patch.fault !== undefined) next.fault = patch.fault;
  let faultForMs: number | undefined;
  if (patch.faultFor !== undefined) {
    faultForMs = parseDuration(patch.faultFor, 'faultFor');
    if (next.fault === 'none') throw new NetmonError('E_BAD_ARGUMENT', 'faultFor: given without a fault');
  }
  return faultForMs === undefined ? { behaviour: next } : { behaviour: next, faultForMs };
}

/** The behaviour as JSON (what GET /_sim answers). */
export function describeBehaviour(b: Behaviour): Record<string, unknown> {
  return {
    latency: formatLatency(b.latency),
    errorRate: b.errorRate,
    errorSpread: b.errorSpread,
    cpuBurn: `${b.cpuBurnMs}ms`,
    fault: b.fault,
    slowLatency: formatLatency(b.slowLatency),
    dataSize: b.dataSize,
  };
}
