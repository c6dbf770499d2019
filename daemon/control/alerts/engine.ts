// The alert state machine. A condition first seen is pending; held for
// alerts.for it fires; once it has been gone for alerts.keep_firing_for the alert
// is resolved (a pending one that goes is resolved without having fired, and is
// not kept in the list). The hold is the hysteresis that keeps a condition
// flickering around its threshold from firing and resolving on every evaluation,
// as Prometheus's keep_firing_for does: while it runs the alert keeps its state
// (a pending one cannot fire before its condition is back) and a condition back
// in time carries on as if it had never gone. An immediate condition (backend_down)
// resolves at once: health's `rise` already held it. Every transition is reported
// once, with the alert as it stands after it. Time comes in as a parameter.
import type { AlertSnapshot } from '../snapshot/snapshot.js';
import type { Condition } from './condition.js';

/** Resolved alerts stay listed this long, and at most RESOLVED_MAX of them. */
export const RESOLVED_KEEP_MS = 15 * 60_000;
const RESOLVED_MAX = 50;

export type Transition = (alert: AlertSnapshot) => void;

export interface AlertTiming {
  /** ms a condition must hold before its alert fires (alerts.for) */
  forMs: number;
  /** ms a condition must have been gone before its alert resolves (alerts.keep_firing_for) */
  keepFiringForMs: number;
}

interface Live {
  alert: AlertSnapshot;
  /** when the condition was last seen absent after being present; null while present */
  goneSince: number | null;
  immediate: boolean;
}

export class AlertEngine {
  private readonly active = new Map<string, Live>();
  private resolved: AlertSnapshot[] = [];

  constructor(private readonly onTransition: Transition) {}

  /** Apply one evaluation's conditions. */
  update(conditions: Condition[], timing: AlertTiming, now: number): void {
    const seen = new Set<string>();
    for (const c of conditions) {
      const key = `${c.name}\u0000${c.subject}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const immediate = c.immediate === true || timing.forMs <= 0;
      let live = this.active.get(key);
      if (!live) {
        live = {
          alert: {
            name: c.name,
            subject: c.subject,
            state: 'pending',
            severity: c.severity,
            message: c.message,
            since: now,
            firedAt: null,
            resolvedAt: null,
            value: c.value,
            threshold: c.threshold,
          },
          goneSince: null,
          immediate: c.immediate === true,
        };
        this.active.set(key, live);
        // a resolved alert of the same name and subject is superseded by the new one
        this.resolved = this.resolved.filter((r) => r.name !== c.name || r.subject !== c.subject);
        if (!immediate) this.onTransition({ ...live.alert });
      }
      const a = live.alert;
      live.goneSince = null;
      a.message = c.message;
      a.value = c.value;
      a.threshold = c.threshold;
      a.severity = c.severity;
      if (a.state === 'pending' && (immediate || now - a.since >= timing.forMs)) {
        a.state = 'firing';
        a.firedAt = now;
        this.onTransition({ ...a });
      }
    }
    for (const [key, live] of [...this.active]) {
      if (seen.has(key)) continue;
      live.goneSince ??= now;
      if (!live.immediate && now - live.goneSince < timing.keepFiringForMs) continue;
      this.active.delete(key);
      const a = live.alert;
      a.state = 'resolved';
      a.resolvedAt = now;
      // one that never fired is reported but not listed: it would be noise
      if (a.firedAt !== null) this.resolved.push(a);
      this.onTransition({ ...a });
    }
    this.resolved = this.resolved.filter((r) => now - r.resolvedAt! < RESOLVED_KEEP_MS).slice(-RESOLVED_MAX);
  }

  /** Firing first, then pending (oldest first within each), then recently resolved (newest first). */
  list(): AlertSnapshot[] {
    const rank = (a: AlertSnapshot): number => (a.state === 'firing' ? 0 : 1);
    const live = [...this.active.values()]
      .map((l) => l.alert)
      .sort((a, b) => rank(a) - rank(b) || a.since - b.since)
      .map((a) => ({ ...a }));
    const gone = [...this.resolved].reverse().map((a) => ({ ...a }));
    return [...live, ...gone];
  }
}
