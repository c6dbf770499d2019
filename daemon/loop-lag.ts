// The event-loop lag of one thread (the main thread's and each worker's): how
// long the loop was kept from running a timer when it was due, that is, how
// long it was blocked. A timer due every RESOLUTION_MS notes how late it ran;
// each read gives the worst of the window since the previous read.
//
// Not perf_hooks.monitorEventLoopDelay: its histogram records the whole
// interval between two firings of its timer, the resolution included (an idle
// loop sampled every 20 ms reads 20 ms, not 0), and its reset() drops the next
// interval, so a block that begins right after a read was never seen. Here the
// resolution is taken off each interval and a read starts the next one.

/** ms between two samples; a stall shorter than this may go unseen */
const RESOLUTION_MS = 20;

export class LoopLag {
  /** performance.now() of the last sample (or read) */
  private last = performance.now();
  /** the worst lateness since the last read, ms */
  private worst = 0;
  private readonly timer: NodeJS.Timeout;

  /** Starts sampling on the calling thread's loop (its timer does not keep the thread alive). */
  constructor() {
    this.timer = setInterval(this.sample, RESOLUTION_MS);
    this.timer.unref();
  }

  private readonly sample = (): void => {
    const now = performance.now();
    const late = now - this.last - RESOLUTION_MS;
    if (late > this.worst) this.worst = late;
    this.last = now;
  };

  /**
   * The event-loop lag since the previous read (or since the start), in ms:
   * the longest a timer due on this thread's loop ran late, i.e. the longest
   * the loop was blocked (a synchronous stretch of JavaScript or native code, a
   * garbage collection); about 0 on an idle loop, about the block's length
   * after one (less at most RESOLUTION_MS). A read starts a new window: a
   * stall that ended just before it (its timer not run yet) is counted now,
   * not again next time.
   */
  read(): number {
    const now = performance.now();
    const pending = now - this.last - RESOLUTION_MS;
    const late = Math.max(this.worst, pending, 0);
    if (pending > 0) this.last = now;
    this.worst = 0;
    return late;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
