// A log line that can repeat thousands of times a second (an exception on every
// connection, a descriptor limit hit by every connect) is written at a bounded
// rate: at most `burst` lines per `windowMs`, then one line that says how many
// were left out. Counting is the metrics' job; the log says that it happens.
import { log, type LogFields } from './log.js';

export class LogThrottle {
  private windowStart = -Infinity;
  private written = 0;
  private suppressed = 0;

  /**
   * `burst` lines per `windowMs` (ms); `now` returns ms (performance.now()
   * by default), a parameter for tests.
   */
  constructor(
    private readonly burst: number,
    private readonly windowMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Write `msg` at `level` unless this window's burst is spent; returns whether it was written. */
  write(level: 'warn' | 'error', msg: string, fields: LogFields): boolean {
    const t = this.now();
    if (t - this.windowStart >= this.windowMs) {
      if (this.suppressed > 0) {
        log[level](`${this.suppressed} more like this in the last ${Math.round(t - this.windowStart)} ms`, {
          suppressed: this.suppressed,
          last: msg,
        });
      }
      this.windowStart = t;
      this.written = 0;
      this.suppressed = 0;
    }
    if (this.written >= this.burst) {
      this.suppressed++;
      return false;
    }
    this.written++;
    log[level](msg, fields);
    return true;
  }
}
