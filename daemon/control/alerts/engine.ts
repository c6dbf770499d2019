// The alert state machine. A condition first seen is pending; held for
// alerts.for it fires; gone, the alert is resolved (a pending one that clears is
// resolved without having fired, and is not kept in the list). Every transition is reported once, with the
// alert as it stands after it. Time comes in as a parameter.
import type { AlertSnapshot } from '../snapshot/snapshot.js';
import type { Condition } from './condition.js';

/** Resolved alerts stay listed this long, and at most RESOLVED_MAX of them. */
export const RESOLVED_KEEP_MS = 15 * 60_000;
const RESOLVED_MAX = 50;

export type Transition = (alert: AlertSnapshot) => void;

export class AlertEngine {
  private readonly active = new Map<string, AlertSnapshot>();
  private resolved: AlertSnapshot[] = [];

  constructor(private readonly onTransition: Transition) {}

  /** Apply one evaluation's conditions. `forMs`: how long a condition must hold before it fires. */
  update(conditions: Condition[], forMs: number, now: number): void {
    const seen = new Set<string>();
    for (const c of conditions) {
      const key = `${c.name}\u0000${c.subject}`;
      if (seen.has(key)) continue;
      seen.add(key);
      let a = this.active.get(key);
      if (!a) {
        a = {
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
        };
        this.active.set(key, a);
        // a resolved alert of the same name and subject is superseded by the new one
        this.resolved = this.resolved.filter((r) => r.name !== c.name || r.subject !== c.subject);
        if (!(c.immediate || forMs <= 0)) this.onTransition({ ...a });
      }
      a.message = c.message;
      a.value = c.value;
      a.threshold = c.threshold;
      a.severity = c.severity;
      if (a.state === 'pending' && (c.immediate || now - a.since >= forMs)) {
        a.state = 'firing';
        a.firedAt = now;
        this.onTransition({ ...a });
      }
    }
    for (const [key, a] of [...this.active]) {
      if (seen.has(key)) continue;
      this.active.delete(key);
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
      .sort((a, b) => rank(a) - rank(b) || a.since - b.since)
      .map((a) => ({ ...a }));
    const gone = [...this.resolved].reverse().map((a) => ({ ...a }));
    return [...live, ...gone];
  }
}
