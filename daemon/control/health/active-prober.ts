// Active probes: one timer per backend, the period measured from probe start to
// probe start with ± INTERVAL_JITTER, at most one probe in flight per backend;
// each result is recorded in the table and fed to rise/fall, and a flip asks the
// checker for the transition.
import { log } from '../../log.js';
import { LogThrottle } from '../../log-throttle.js';
import { Cause, CheckResult, OpState } from '../../state/names.js';
import type { Table } from '../../state/table.js';
import { describeError } from './probe-guard.js';
import type { ActiveCheck, Probe, ProbeResult } from './probe-types.js';
import { riseFall } from './rise-fall.js';
import type { ClearTimer, SetTimer } from './timers.js';
import type { StateWriter, Tracked } from './tracked.js';

/** The next probe comes interval ± this share, so probes of many backends do not march in step. */
const INTERVAL_JITTER = 0.1;
const localLog = new LogThrottle(5, 10_000);

export interface ActiveProberOptions {
  table: Table;
  /** ms since epoch */
  now: () => number;
  /** [0,1) */
  random: () => number;
  setTimer: SetTimer;
  clearTimer: ClearTimer;
  probe: Probe;
  writer: StateWriter;
}

export class ActiveProber {
  /** probes whose result arrived, and how many of them failed */
  probes = 0;
  probeFailures = 0;
  /** probes that could not be made for want of file descriptors (not counted as probes) */
  localFailures = 0;

  constructor(private readonly o: ActiveProberOptions) {}

  /** Begin probing a backend with an active check: the first probe within one interval. */
  start(rec: Tracked): void {
    // spread first probes over one interval so a reload does not probe every backend at once
    if (rec.e.check.type !== 'none') this.schedule(rec, this.o.random() * rec.e.check.interval);
  }

  /** Cancel the next probe and abort the one in flight (its result is then ignored). */
  halt(rec: Tracked): void {
    if (rec.timer !== null) {
      this.o.clearTimer(rec.timer);
      rec.timer = null;
    }
    if (rec.inFlight) {
      const ac = rec.inFlight;
      rec.inFlight = null;
      ac.abort();
    }
  }

  private schedule(rec: Tracked, delay: number): void {
    rec.timer = this.o.setTimer(() => this.fire(rec), delay);
  }

  private fire(rec: Tracked): void {
    rec.timer = null;
    if (rec.gone || this.o.writer.stopped || rec.e.check.type === 'none') return;
    const ac = new AbortController();
    rec.inFlight = ac;
    rec.probeStart = this.o.now();
    let p: Promise<ProbeResult>;
    try {
      p = this.o.probe(rec.e.address, rec.e.check as ActiveCheck, ac.signal);
    } catch (err) {
      p = Promise.resolve({ ok: false, durationMs: 0, detail: describeError(err) });
    }
    p.then(
      (r) => this.onResult(rec, ac, r),
      (err: unknown) => this.onResult(rec, ac, { ok: false, durationMs: 0, detail: describeError(err) }),
    );
  }

  private onResult(rec: Tracked, ac: AbortController, r: ProbeResult): void {
    if (rec.inFlight !== ac) return; // superseded by a check change, removal or stop
    rec.inFlight = null;
    const check = rec.e.check;
    const writer = this.o.writer;
    if (rec.gone || writer.stopped || check.type === 'none') return;
    const table = this.o.table;
    const slot = rec.e.slot;
    const now = this.o.now();
    if (r.local) {
      // our descriptors ran out, not the backend: its state and rise/fall stay as they were
      this.localFailures++;
      localLog.write('warn', 'health probe not made: out of file descriptors', {
        backend: rec.e.key,
        detail: r.detail,
      });
    } else {
      this.probes++;
      if (!r.ok) this.probeFailures++;
      rec.detail = r.detail;
      table.backends.recordCheck(slot, r.ok ? CheckResult.Ok : CheckResult.Failed, r.durationMs, now);
      // a backend that stops reporting must not keep showing its last figures
      table.backends.recordAgent(slot, r.agent?.cpu ?? NaN, r.agent?.memory ?? NaN, r.agent?.connections ?? NaN);
      if (!r.ok) log.debug('health probe failed', { backend: rec.e.key, check: check.type, detail: r.detail });

      const up = table.backends.opState(slot) !== OpState.Down;
      const step = riseFall(up, rec.count, r.ok, check.rise, check.fall);
      writer.setCount(rec, step.count);
      if (step.flip) {
        if (up) writer.transition(rec, OpState.Down, Cause.Health, r.detail);
        else writer.transition(rec, rec.e.slowStartMs > 0 ? OpState.Starting : OpState.Up, Cause.Health, r.detail);
      }
      // a transition listener may have stopped us, or changed the check and rescheduled
      if (rec.gone || writer.stopped || rec.timer !== null || rec.inFlight !== null) return;
    }

    const interval = check.interval * (1 - INTERVAL_JITTER + 2 * INTERVAL_JITTER * this.o.random());
    // the period runs from probe start to probe start; a slow probe delays the next, never overlaps it
    const delay = Math.min(interval, Math.max(0, rec.probeStart + interval - now));
    this.schedule(rec, delay);
  }
}
