// Durations as operators write them ("250ms", "2s", "1.5m"), in milliseconds.
// A bare number is milliseconds. The simulated backends and the traffic generator
// take durations from flags and JSON, so they parse them here rather than in the
// daemon's config loader.
import { NetmonError } from '../daemon/errors.js';

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PATTERN = /^(\d+(?:\.\d+)?)\s*(us|ms|s|m|h)?$/;

/** Milliseconds from "250ms" | "2s" | "5m" | "1h" | "0" | 40 (ms). Throws E_DURATION. */
export function parseDuration(value: string | number, what = 'duration'): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) {
      throw new NetmonError('E_DURATION', `${what}: must be a non-negative number of ms, got ${value}`);
    }
    return value;
  }
  const m = PATTERN.exec(value.trim());
  if (!m) throw new NetmonError('E_DURATION', `${what}: expected a duration like "250ms" or "2s", got "${value}"`);
  return Number(m[1]) * UNIT_MS[m[2] ?? 'ms']!;
}

/** "1.5s", "250ms", "40us": the shortest exact-enough spelling, for logs and summaries. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0ms';
  if (ms >= 1000) return `${+(ms / 1000).toFixed(2)}s`;
  if (ms >= 1) return `${+ms.toFixed(2)}ms`;
  return `${Math.round(ms * 1000)}us`;
}
