// Memory comes back after a burst. V8's memory reducer shrinks a heap, and
// gives the pages it freed back to the system, once it sees a low allocation
// rate; but it samples that rate at garbage collections, and those stop when the
// traffic does: the samples left are the burst's, the rate looks high for ever,
// and the pages a worker used during the burst stay resident (docs/reliability.md
// has the figures). One full collection once the worker has been quiet for a
// few seconds gives the reducer fresh samples, and within seconds the memory is
// back. `gc` is V8's, exposed by `--expose-gc` (bin/netmon passes it); without
// it nothing is done here.

/** heartbeats in a row with at most QUIET_ACCEPTS accepts each before the worker counts as quiet */
const QUIET_BEATS = 5;
const QUIET_ACCEPTS = 10;
/** accepts since the last collection that make a burst worth one */
const BURST = 1000;

/** V8's gc extension: a `last-resort` collection also gives the pages it frees back to the system */
type V8Gc = (options: { type: 'major'; execution: 'sync'; flavor: 'regular' | 'last-resort' }) => void;

export class IdleGc {
  private lastAccepted = 0;
  /** accepted when the last collection ran */
  private collectedAt = 0;
  private quietBeats = 0;
  /** a busy beat since the last collection */
  private busy = false;

  constructor(private readonly gc: V8Gc | null) {}

  /** V8's `gc` when the process runs with --expose-gc, else null. */
  static exposed(): V8Gc | null {
    const gc = (globalThis as { gc?: unknown }).gc;
    return typeof gc === 'function' ? (gc as V8Gc) : null;
  }

  /** Once per heartbeat, with the worker's count of accepted connections so far. */
  beat(accepted: number): void {
    if (this.gc === null) return;
    const n = accepted - this.lastAccepted;
    this.lastAccepted = accepted;
    if (n > QUIET_ACCEPTS) {
      this.quietBeats = 0;
      this.busy = true;
      return;
    }
    this.quietBeats++;
    if (!this.busy || this.quietBeats < QUIET_BEATS || accepted - this.collectedAt < BURST) return;
    this.busy = false;
    this.collectedAt = accepted;
    this.gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  }
}
