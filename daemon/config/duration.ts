// Durations are strings with a unit: "250ms", "2s", "5m", "1h", or a sum such as
// "1m30s". A bare number is refused: "2" could mean seconds or milliseconds.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;

/** Node timers overflow past 2^31-1 ms (about 24.8 days). */
export const MAX_DURATION_MS = 2 ** 31 - 1;

export type DurationResult = { ok: true; ms: number } | { ok: false; reason: string };

export function parseDuration(text: string): DurationResult {
  const s = text.trim();
  if (s === '0') return { ok: true, ms: 0 };
  if (s === '') return { ok: false, reason: 'empty duration' };
  if (s.startsWith('-')) return { ok: false, reason: `negative duration "${text}"` };
  let ms = 0;
  let at = 0;
  while (at < s.length) {
    PART.lastIndex = at;
    const m = PART.exec(s);
    if (!m) {
      const hint = /^\d+(\.\d+)?$/.test(s) ? ` (add a unit: "${s}s" or "${s}ms")` : '';
      return { ok: false, reason: `"${text}" is not a duration like "250ms", "2s", "5m", "1h"${hint}` };
    }
    ms += Number(m[1]) * UNIT_MS[m[2]!]!;
    at = PART.lastIndex;
  }
  ms = Math.round(ms);
  if (ms > MAX_DURATION_MS) return { ok: false, reason: `"${text}" is longer than 24 days` };
  return { ok: true, ms };
}
