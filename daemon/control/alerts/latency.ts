// A backend's windowed latency as the alert rules read it (high_latency, and
// poor_distribution's question whether a backend is measurably slower).
import { LATENCY_BUCKETS } from '../../state/names.js';
import { quantile } from '../../state/quantile.js';

/** A p95 over fewer connections than this says more about one client than about the backend. */
const MIN_LATENCY_SAMPLES = 5;

/**
 * p95 in ms of connect + first byte. The first-byte time is measured from the
 * start of the connect, so it already includes it; the connect time stands in
 * for connections whose backend has not sent a byte yet.
 */
export function latencyP95Ms(h: { connect: number[]; firstByte: number[] }): number | null {
  const n = (c: number[]): number => c.reduce((a, b) => a + b, 0);
  const connect = n(h.connect) >= MIN_LATENCY_SAMPLES ? quantile(LATENCY_BUCKETS, h.connect, 0.95) : null;
  const firstByte = n(h.firstByte) >= MIN_LATENCY_SAMPLES ? quantile(LATENCY_BUCKETS, h.firstByte, 0.95) : null;
  if (connect === null && firstByte === null) return null;
  return Math.max(connect ?? 0, firstByte ?? 0) * 1000;
}
