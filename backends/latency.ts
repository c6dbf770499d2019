// Latency distributions for simulated backends:
//   "0" | "10ms"                fixed
//   "normal:50ms:10ms"          mean, standard deviation (clamped at 0)
//   "uniform:10ms:200ms"        min, max
//   "exp:20ms"                  exponential with this mean (long tail)
// A spec is parsed once; sampling is a small pure function of a random source.
import { NetmonError } from '../daemon/errors.js';
import { formatDuration, parseDuration } from './duration.js';

export type LatencySpec =
  | { kind: 'fixed'; ms: number }
  | { kind: 'normal'; meanMs: number; stddevMs: number }
  | { kind: 'uniform'; minMs: number; maxMs: number }
  | { kind: 'exp'; meanMs: number };

export const NO_LATENCY: LatencySpec = Object.freeze({ kind: 'fixed', ms: 0 });

export function parseLatency(value: string | number, what = 'latency'): LatencySpec {
  if (typeof value === 'number') return { kind: 'fixed', ms: parseDuration(value, what) };
  const parts = value.trim().split(':');
  const arity = (n: number): void => {
    if (parts.length !== n + 1) {
      throw new NetmonError('E_BAD_ARGUMENT', `${what}: "${parts[0]}" takes ${n} duration(s), got "${value}"`);
    }
  };
  switch (parts[0]) {
    case 'normal': {
      arity(2);
      return { kind: 'normal', meanMs: parseDuration(parts[1]!, what), stddevMs: parseDuration(parts[2]!, what) };
    }
    case 'uniform': {
      arity(2);
      const minMs = parseDuration(parts[1]!, what);
      const maxMs = parseDuration(parts[2]!, what);
      if (maxMs < minMs) throw new NetmonError('E_RANGE', `${what}: uniform max is below min in "${value}"`);
      return { kind: 'uniform', minMs, maxMs };
    }
    case 'exp': {
      arity(1);
      return { kind: 'exp', meanMs: parseDuration(parts[1]!, what) };
    }
    default:
      if (parts.length !== 1) {
        throw new NetmonError('E_BAD_ARGUMENT', `${what}: unknown distribution "${parts[0]}" (normal, uniform, exp)`);
      }
      return { kind: 'fixed', ms: parseDuration(value, what) };
  }
}

/** Milliseconds to wait before answering, drawn from the spec. */
export function sampleLatency(spec: LatencySpec, random: () => number = Math.random): number {
  switch (spec.kind) {
    case 'fixed':
      return spec.ms;
    case 'uniform':
      return spec.minMs + (spec.maxMs - spec.minMs) * random();
    case 'exp':
      return -spec.meanMs * Math.log(1 - random());
    case 'normal': {
      // Box-Muller; 1 - random() keeps the logarithm's argument in (0, 1]
      const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
      return Math.max(0, spec.meanMs + spec.stddevMs * z);
    }
  }
}

export function formatLatency(spec: LatencySpec): string {
  switch (spec.kind) {
    case 'fixed':
      return formatDuration(spec.ms);
    case 'uniform':
      return `uniform:${formatDuration(spec.minMs)}:${formatDuration(spec.maxMs)}`;
    case 'exp':
      return `exp:${formatDuration(spec.meanMs)}`;
    case 'normal':
      return `normal:${formatDuration(spec.meanMs)}:${formatDuration(spec.stddevMs)}`;
  }
}

export function isZeroLatency(spec: LatencySpec): boolean {
  return spec.kind === 'fixed' && spec.ms === 0;
}
