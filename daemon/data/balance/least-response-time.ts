// Least response time, as NGINX Plus's least_time (ngx_stream_upstream_module docs):
// score = response time x (open connections + 1) / weight, lowest wins, where the
// response time is the backend's connect + first-byte estimate from
// latency-estimates.ts. Three things keep it from settling on a wrong answer:
//
//   aging       an estimate with no new samples fades toward "unknown" (counted
//               as fast as the fastest known member), so a backend that stopped
//               getting traffic because it was slow, or because its first sample
//               was a cold one, is tried again;
//   exploring   a small share of picks (EXPLORE_SHARE, as a credit earned per
//               pick, not a coin toss, so probes come regularly) goes to the member
//               whose estimate is the oldest, once it is older than PROBE_AFTER_MS,
//               so estimates stay fresh (at most one probe per member per
//               PROBE_AFTER_MS);
//   tolerance   a response time within TOLERANCE of the fastest counts as the
//               fastest: alike backends then differ only by open connections per
//               weight (least_connections among them, ties drawn at random), so
//               they share the load instead of the one measured a hair faster
//               taking it all.
import { avoided, type AlgorithmInfo, type Balancer, type BalancerInput, type PickContext } from './interface.js';
import { LatencyEstimates } from './latency-estimates.js';
import type { Table } from '../../state/table.js';

/** At most this share of picks refreshes a stale estimate instead of taking the best score. */
export const EXPLORE_SHARE = 0.05;
/** ms: an estimate older than this may be refreshed by an exploring pick. */
export const PROBE_AFTER_MS = 1000;
/** Response times within this fraction above the fastest count as equal (noise, not a difference). */
const TOLERANCE = 0.5;

class LeastResponseTime implements Balancer {
  private readonly slots: Int32Array;
  private readonly weights: Int32Array;
  private readonly table: Table;
  private readonly latency: LatencyEstimates;
  /** each member's index in `latency` */
  private readonly at: Int32Array;
  /** when each member was last explored (ms), so one probe is not repeated while its sample is in flight */
  private readonly probedAt: Float64Array;
  /** exploring picks earned: EXPLORE_SHARE per pick, at most one in hand */
  private credit = 0;
  /** scratch: each member's aged response time in the current pick, NaN when avoided */
  private readonly times: Float64Array;

  constructor(input: BalancerInput) {
    const n = input.members.length;
    this.slots = Int32Array.from(input.members, (m) => m.slot);
    this.weights = Int32Array.from(input.members, (m) => Math.max(1, m.weight));
    this.table = input.table;
    let latency = input.latency;
    if (!latency || input.members.some((m) => latency!.indexOf(m.slot) < 0)) {
      latency = new LatencyEstimates(input.table, this.slots);
    }
    this.latency = latency;
    this.at = Int32Array.from(input.members, (m) => latency.indexOf(m.slot));
    this.probedAt = new Float64Array(n).fill(-Infinity);
    this.times = new Float64Array(n);
  }

  pick(ctx: PickContext): number {
    const n = this.slots.length;
    if (n === 0) return -1;
    const now = ctx.now;
    const latency = this.latency;
    latency.refresh(now);
    const checkAvoid = ctx.avoid.length > 0;
    // exploring is a share of new connections: a retry (ctx.retry) neither earns nor spends it
    if (n > 1 && !ctx.retry) {
      this.credit = Math.min(1, this.credit + EXPLORE_SHARE);
      if (this.credit >= 1) {
        const probe = this.stalest(ctx, checkAvoid);
        if (probe >= 0) {
          this.credit -= 1;
          return probe;
        }
      }
    }
    // "unknown" is as fast as the fastest known member (1 ms when none is known):
    // an unmeasured or long-unmeasured member wins a share and gets measured
    let prior = Infinity;
    for (let i = 0; i < n; i++) {
      const v = latency.value(this.at[i]!);
      if (v < prior) prior = v;
    }
    if (prior === Infinity) prior = 1;
    // aged estimates, and the fastest of them
    const times = this.times;
    let fastest = Infinity;
    for (let i = 0; i < n; i++) {
      if (checkAvoid && avoided(ctx, this.slots[i]!)) {
        times[i] = NaN;
        continue;
      }
      const k = this.at[i]!;
      const v = latency.value(k);
      const t = v === v ? prior + latency.freshness(k, now) * (v - prior) : prior;
      times[i] = t;
      if (t < fastest) fastest = t;
    }
    if (fastest === Infinity) return -1;
    // within the tolerance a time counts as the fastest: alike members then differ
    // only by open connections per weight. A tie goes to one of the tied at random
    // (reservoir sampling): a rotating scan start would favour the member after
    // one that always loses.
    const alike = fastest * (1 + TOLERANCE);
    const table = this.table;
    let best = -1;
    let bestScore = Infinity;
    let ties = 0;
    for (let i = 0; i < n; i++) {
      const t = times[i]!;
      if (t !== t) continue;
      const slot = this.slots[i]!;
      const score = ((t <= alike ? fastest : t) * (table.backends.active(slot) + 1)) / this.weights[i]!;
      if (score < bestScore) {
        best = slot;
        bestScore = score;
        ties = 1;
      } else if (score === bestScore && ctx.random() * ++ties < 1) {
        best = slot;
      }
    }
    return best;
  }

  /** The member with the oldest estimate, if older than PROBE_AFTER_MS; else -1. */
  private stalest(ctx: PickContext, checkAvoid: boolean): number {
    const now = ctx.now;
    let pick = -1;
    let oldest = PROBE_AFTER_MS;
    for (let i = 0; i < this.slots.length; i++) {
      if (checkAvoid && avoided(ctx, this.slots[i]!)) continue;
      const age = Math.min(this.latency.age(this.at[i]!, now), now - this.probedAt[i]!);
      if (age >= oldest) {
        oldest = age;
        pick = i;
      }
    }
    if (pick < 0) return -1;
    this.probedAt[pick] = now;
    return this.slots[pick]!;
  }
}

export const leastResponseTime: AlgorithmInfo = {
  name: 'least_response_time',
  needsClientAddress: false,
  weighted: true,
  create: (input) => new LeastResponseTime(input),
};
