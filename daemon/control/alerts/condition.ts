// A rule's finding, shared by every rule file and the engine.

export const ALERT_NAMES = [
  'backend_down',
  'high_latency',
  'high_cpu',
  'high_memory',
  'fd_exhaustion',
  'traffic_spike',
  'poor_distribution',
  'discovery_failed',
] as const;
type AlertName = (typeof ALERT_NAMES)[number];

/** The condition holds now for this subject. */
export interface Condition {
  name: AlertName;
  /** a backend key, a pool, a listener, or "daemon" */
  subject: string;
  severity: 'warning' | 'critical';
  value: number;
  threshold: number;
  message: string;
  /**
   * Fire at once instead of waiting alerts.for: backend_down is already held
   * down by the health check's fall count, and a second wait would only delay it.
   */
  immediate?: boolean;
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
