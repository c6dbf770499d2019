// One warning for many events of a kind, at a bounded rate: the first is logged
// at once, later ones at most every `everyMs` as counts by reason. A flood of
// hostile control clients (thousands of silent or over-long ones) then costs a
// few log lines, not one per client; the counters in the metrics have them all.
import { log } from '../../log.js';

export class BoundedWarning {
  private counts: Record<string, number> = {};
  private pending = false;
  private lastAt = -Infinity;
  private timer: NodeJS.Timeout | null = null;

  /**
   * @param message the log line's message
   * @param fields fields every line carries (limits)
   * @param everyMs least time between two lines
   */
  constructor(
    private readonly message: string,
    private readonly fields: Record<string, unknown>,
    private readonly everyMs = 10_000,
  ) {}

  /** One event for `reason`: logged now, or counted into the next line. */
  note(reason: string): void {
    this.counts[reason] = (this.counts[reason] ?? 0) + 1;
    this.pending = true;
    const wait = this.lastAt + this.everyMs - Date.now();
    if (wait <= 0) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), wait).unref();
  }

  /** Logs what is counted (if anything) and stops the timer: the server is closing. */
  close(): void {
    if (this.pending) this.flush();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (!this.pending) return;
    log.warn(this.message, { ...this.fields, ...this.counts });
    this.counts = {};
    this.pending = false;
    this.lastAt = Date.now();
  }
}
