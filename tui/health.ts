// The instance's health as the header shows it: what /healthz and `netmon ctl
// show health` answer routing tools (keepalived, `netmon announce`), so an
// operator watching a stop sees the lame duck count down and the drain empty.
import type { HealthReport } from '../daemon/control/service-health.js';
import type { Snapshot } from '../daemon/control/snapshot/snapshot.js';

export interface HealthView {
  /** short, upper case when unhealthy: "healthy", "LAME DUCK 2.4s", "DRAINING 12 conns", "UNHEALTHY" */
  badge: string;
  healthy: boolean;
  /** green healthy, yellow stopping (lame duck, drain), red unhealthy for any other reason */
  color: 'green' | 'yellow' | 'red';
  /** the reasons, one line (null when healthy) */
  detail: string | null;
}

/**
 * The view of `s.info.health` at time `now` (ms since the epoch): the lame
 * duck's time left counts down from the snapshot's time, the drain shows the
 * connections still open (every worker's). Null when the daemon does not report
 * health (an older daemon).
 */
export function healthView(s: Snapshot, now: number): HealthView | null {
  const h = (s.info as { health?: HealthReport }).health;
  if (!h) return null;
  if (h.healthy) return { badge: 'healthy', healthy: true, color: 'green', detail: null };
  const others = h.reasons.filter((r) => r.code !== 'stopping').map((r) => r.message);
  if (h.phase === 'lame_duck') {
    const left = seconds(Math.max(0, h.lameDuckRemainingMs - Math.max(0, now - s.time)));
    return {
      badge: `LAME DUCK ${left}`,
      healthy: false,
      color: 'yellow',
      detail: [`stopping: unhealthy for routing, still accepting; listeners close in ${left}`, ...others].join(' · '),
    };
  }
  if (h.phase === 'draining') {
    const open = s.workers.reduce((n, w) => n + w.active, 0);
    const conns = `${open} connection${open === 1 ? '' : 's'}`;
    return {
      badge: `DRAINING ${conns}`,
      healthy: false,
      color: 'yellow',
      detail: [`stopping: listeners closed, ${conns} finishing`, ...others].join(' · '),
    };
  }
  return { badge: 'UNHEALTHY', healthy: false, color: 'red', detail: others.join(' · ') };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
