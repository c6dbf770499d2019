// The main thread's time for control requests, shared out. Every client with
// lines waiting is answered round-robin, one line at a time, for at most
// `budgetMs` per event-loop turn; then the scheduler yields (setImmediate), so
// health probes, the metrics port, timers and signals run between batches
// however much a client pipelines (a 1 MiB write of requests used to hold the
// thread for seconds).
import { log } from '../../log.js';

/** A client with lines to answer. */
export interface LineRunner {
  /**
   * Answers one line. Returns true when another line is ready to answer now;
   * false when there is none, or the client waits for something (an async
   * command, its socket): it schedules itself again when ready.
   */
  step(): boolean;
}

/** Work per event-loop turn: short enough that a 50 ms health probe never waits on the control socket. */
export const DEFAULT_TURN_BUDGET_MS = 10;

export class LineScheduler {
  /** insertion-ordered: iterating while re-adding at the end is a round-robin queue */
  private readonly ready = new Set<LineRunner>();
  private pending: NodeJS.Immediate | null = null;
  private readonly run = (): void => this.turn();

  constructor(
    private readonly budgetMs = DEFAULT_TURN_BUDGET_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Queues `r` to be stepped in a later turn (never synchronously: the caller may be mid-event). */
  schedule(r: LineRunner): void {
    this.ready.add(r);
    this.pending ??= setImmediate(this.run);
  }

  /** Forgets `r` (its client closed). */
  cancel(r: LineRunner): void {
    this.ready.delete(r);
  }

  /** Stops scheduling: the server is closing. */
  stop(): void {
    this.ready.clear();
    if (this.pending !== null) clearImmediate(this.pending);
    this.pending = null;
  }

  private turn(): void {
    this.pending = null;
    const deadline = this.now() + this.budgetMs;
    for (const r of this.ready) {
      this.ready.delete(r);
      let more = false;
      try {
        more = r.step();
      } catch (err) {
        // a runner answers its own errors; one that escapes must not stop the others
        log.error('control client step failed', { err });
      }
      if (more) this.ready.add(r);
      if (this.now() >= deadline) break;
    }
    if (this.ready.size > 0) this.pending = setImmediate(this.run);
  }
}
