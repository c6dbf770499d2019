// traffic_spike: a listener's connection rate over spike_factor x its moving
// baseline (and at least spike_min_rate). The baseline is an exponentially
// weighted average of the rate with a time constant of baseline_window, so it
// follows slow growth but not a burst. Three things keep it honest:
//
//   - it starts as the plain average of the rates seen so far (the weight of the
//     average is tracked and divided out, as in a bias-corrected EWMA), so the
//     first, perhaps partial, second does not stay in it for minutes while the
//     real rate looks like a spike against it;
//   - it does not chase its own spike: from a spike's first evaluation until the
//     rate has stayed under the threshold for keep_firing_for, the baseline
//     stands still, so a burst cannot raise it until the burst looks normal and
//     a rate hovering at the threshold cannot walk it up step by step;
//   - a spike that lasts a whole baseline_window is the new normal: the baseline
//     becomes the spike's average rate at once (one resolution, not a baseline
//     crawling up to meet the rate and crossing it back and forth).
import type { AlertsConfig } from '../../config/schema.js';
import type { AlertInputs } from './inputs.js';
import { round, type Condition } from './condition.js';

interface Spike {
  start: number;
  /** last evaluation that found the rate over the threshold */
  lastOver: number;
  /** of the rates judged over the spike, for its average */
  sum: number;
  n: number;
}

interface ListenerState {
  lastTime: number;
  lastAccepted: number;
  /** the weighted sum of rates and the sum of their weights: baseline = avg / weight (conn/s) */
  avg: number;
  weight: number;
  /** first time a rate was measured; NaN before */
  since: number;
  spike: Spike | null;
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
          avg: 0,
          weight: 0,
          since: NaN,
          spike: null,
          last: null,
        });
        continue;
      }
      if (now - s.lastTime < MIN_RATE_SPAN_MS) {
        if (s.last) out.push(s.last);
        continue;
      }
      const dtMs = now - s.lastTime;
      const rate = (l.accepted - s.lastAccepted) / (dtMs / 1000);
      s.lastTime = now;
      s.lastAccepted = l.accepted;
      s.last = this.judge(l.name, s, rate, dtMs, cfg, now);
      if (s.last) out.push(s.last);
    }
    for (const name of [...this.listeners.keys()]) if (!seen.has(name)) this.listeners.delete(name);
  }

  private judge(
    name: string,
    s: ListenerState,
    rate: number,
    dtMs: number,
    cfg: AlertsConfig,
    now: number,
  ): Condition | null {
    if (Number.isNaN(s.since)) s.since = now;
    const baseline = s.weight > 0 ? s.avg / s.weight : NaN;
    // judged only once the baseline has seen a fifth of its window
    const warm = baseline === baseline && now - s.since >= cfg.baselineWindow / 5;
    const threshold = cfg.spikeFactor * baseline;
    const over = cfg.spikeFactor > 0 && warm && rate >= cfg.spikeMinRate && rate > threshold;
    let spike = s.spike;
    if (over) {
      spike ??= s.spike = { start: now, lastOver: now, sum: 0, n: 0 };
      spike.lastOver = now;
      spike.sum += rate;
      spike.n++;
      if (now - spike.start >= cfg.baselineWindow) {
        // it has lasted a whole window: the new normal
        s.avg = spike.sum / spike.n;
        s.weight = 1;
        s.spike = null;
        return null;
      }
    } else if (spike && now - spike.lastOver >= cfg.keepFiringFor) {
      spike = s.spike = null;
    }
    if (!spike) {
      const keep = Math.exp(-dtMs / cfg.baselineWindow);
      s.avg = keep * s.avg + (1 - keep) * rate;
      s.weight = keep * s.weight + (1 - keep);
    }
    if (!over) return null;
    return {
      name: 'traffic_spike',
      subject: name,
      severity: 'warning',
      value: round(rate),
      threshold: round(threshold),
      message: `listener ${name}: ${round(rate)} conn/s > ${cfg.spikeFactor} x baseline ${round(baseline)} conn/s`,
    };
  }
}
