// fd_exhaustion: the daemon is at its file descriptor limit. It holds while a
// worker has stopped accepting for want of descriptors, while nine in ten of
// the limit are open, or when descriptors ran out (EMFILE/ENFILE on a connect,
// an accept or a probe) since the last evaluation. It fires at once: clients
// are being refused now, and no wait makes that less true.
import type { AlertInputs } from './inputs.js';
import { round, type Condition } from './condition.js';

/** share of the limit open at which the alert holds */
const HIGH_SHARE = 0.9;

export class FdTracker {
  /** EMFILE/ENFILE events counted at the last evaluation */
  private lastEvents = -1;

  evaluate(inputs: AlertInputs, out: Condition[]): void {
    const f = inputs.fds;
    if (f === undefined) return;
    const fresh = this.lastEvents >= 0 && f.exhaustion > this.lastEvents;
    this.lastEvents = f.exhaustion;
    const share = f.limit !== null && f.open >= 0 ? f.open / f.limit : 0;
    if (!f.acceptPaused && !fresh && share < HIGH_SHARE) return;
    const of = f.limit === null ? '' : ` of ${f.limit}`;
    const why = f.acceptPaused
      ? 'not accepting until some are free'
      : fresh
        ? 'descriptors ran out since the last check'
        : `over ${HIGH_SHARE * 100}% in use`;
    out.push({
      name: 'fd_exhaustion',
      subject: 'daemon',
      severity: 'critical',
      value: f.open,
      threshold: f.limit === null ? 0 : round(f.limit * HIGH_SHARE, 0),
      message: `netmon is out of file descriptors (${f.open} open${of}): ${why}; raise LimitNOFILE=`,
      immediate: true,
    });
  }
}
