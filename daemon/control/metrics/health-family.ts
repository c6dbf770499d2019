// The instance's health as the metrics port exports it: the same verdict as
// /healthz, so a dashboard shows when an instance withdrew itself and why.
import type { FamilyDef } from './family.js';
import type { HealthReason, HealthReport } from '../service-health.js';

const REASONS: readonly HealthReason['code'][] = ['stopping', 'no_listener', 'critical_pool'];

export const HEALTH_FAMILIES: readonly FamilyDef<HealthReport>[] = [
  {
    name: 'netmon_healthy',
    help: '1 while this instance should get new traffic (/healthz answers 200), 0 while it should not.',
    type: 'gauge',
    read: (h) => [{ labels: {}, value: h.healthy ? 1 : 0 }],
  },
  {
    name: 'netmon_unhealthy_reason',
    help: '1 while the reason holds: stopping (lame duck or drain), no_listener, critical_pool.',
    type: 'gauge',
    read: (h) =>
      REASONS.map((code) => ({ labels: { reason: code }, value: h.reasons.some((r) => r.code === code) ? 1 : 0 })),
  },
];
