// traffic_spike: a listener's connection rate over spike_factor x its moving
// baseline. The baseline is an exponentially weighted average of the rate with
// a time constant of baseline_window, so it follows slow growth but not a burst.
import type { AlertsConfig } from '../../config/schema.js';
import type { AlertInputs } from './inputs.js';
import { round, type Condition } from './condition.js';

interface ListenerState {
  lastTime: number;
  lastAccepted: number;
  /** conn/s; NaN until the first rate is known */
  baseline: number;
  /** first time a rate was measured */
  since: number;
  /** when the current spike began, or NaN */
  spikeSince: number;
  /** what the last judged evaluation found */
  last: Condition | null;
}

/**
 * A rate over a shorter span is not judged: the previous finding stands. Extra
 * evaluations (on a backend state change) come milliseconds apart, and one
 * connection in 10 ms is not 100 conn/s.
 */
const MIN_RATE_SPAN_MS = 1000;

export class SpikeTracker {
  private readonly listeners = new Map<string, ListenerState>();

  evaluate(inputs: AlertInputs, cfg: AlertsConfig, now: number, out: Condition[]): void {
    const seen = new Set<string>();
    for (const l of inputs.listeners) {
      seen.add(l.name);
      const s = this.listeners.get(l.name);
      if (!s || l.accepted < s.lastAccepted) {
        // new, or its counters were reset: start over
        this.listeners.set(l.name, {
          lastTime: now,
          lastAccepted: l.accepted,
          baseline: NaN,
          since: now,
          spikeSince: NaN,
          last: null,
        });
        continue;
      }
      if (now - s.lastTime < MIN_RATE_SPAN_MS) {
        if (s.last) out.push(s.last);
        continue;
      }
      const dt = (now - s.lastTime) / 1000;
      const rate = (l.accepted - s.lastAccepted) / dt;
      s.lastTime = now;
      s.lastAccepted = l.accepted;
      if (Number.isNaN(s.baseline)) {
        s.baseline = rate;
        s.since = now;
        continue;
      }
      // judged only once the baseline has seen a fifth of its window
      const warm = now - s.since >= cfg.baselineWindow / 5;
      const spiking = cfg.spikeFactor > 0 && warm && rate >= cfg.spikeMinRate && rate > cfg.spikeFactor * s.baseline;
      if (spiking) {
        if (Number.isNaN(s.spikeSince)) s.spikeSince = now;
        s.last = {
          name: 'traffic_spike',
          subject: l.name,
          severity: 'warning',
          value: round(rate),
          threshold: round(cfg.spikeFactor * s.baseline),
          message: `listener ${l.name}: ${round(rate)} conn/s > ${cfg.spikeFactor} x baseline ${round(s.baseline)} conn/s`,
        };
        out.push(s.last);
      } else {
        s.spikeSince = NaN;
        s.last = null;
      }
      // A spike does not move the baseline, or a long burst would hide itself;
      // one that lasts a whole baseline window has become the new normal.
      if (!spiking || now - s.spikeSince >= cfg.baselineWindow) {
        const alpha = 1 - Math.exp(-(dt * 1000) / cfg.baselineWindow);
        s.baseline += alpha * (rate - s.baseline);
      }
    }
    for (const name of [...this.listeners.keys()]) if (!seen.has(name)) this.listeners.delete(name);
  }
}
