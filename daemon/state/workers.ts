// Per-worker stripes: heartbeat, event-loop lag, CPU time and connection counts,
// each written by its own worker and read by the main thread (supervision,
// `show workers`, metrics).
import { type Layout } from './layout.js';
import { WorkerStripe } from './fields.js';

/** One worker's stripe as the main thread reads it. */
export interface WorkerStats {
  /** ms since epoch of the last beat */
  heartbeat: number;
  /** ms: the longest the worker's event loop was blocked between its last two beats (daemon/loop-lag.ts) */
  loopLagMs: number;
  /** CPU seconds in user mode */
  cpuUser: number;
  /** CPU seconds in kernel mode */
  cpuSystem: number;
  /** open client connections */
  active: number;
  /** client connections accepted */
  accepted: number;
  /** times the worker was started (restarts after a crash included) */
  starts: number;
  /** the worker relays with the native relay (else with Node sockets) */
  nativeRelay: boolean;
  /** the native relay waits in the event loop's place (daemon/data/native/wait.c); false: the loop watches it */
  relayInPlace: boolean;
  /** access lines of refused connections counted instead of written (over the refusal line rate) */
  accessSuppressed: number;
  /** exceptions caught on a connection's path (the connection was reset) or that ended the worker */
  internalErrors: number;
  /** times accepting was paused for want of file descriptors */
  fdAcceptPauses: number;
  /** backend connects that failed with EMFILE/ENFILE */
  fdConnectFailures: number;
  /** the worker's listeners are paused now for want of file descriptors */
  acceptPaused: boolean;
  /** the soft file descriptor limit the worker applies, as it last read it: Infinity when unlimited, 0 before it read it */
  fdLimit: number;
  /** open connections an immediate stop cut with a reset (drain_timeout expired, a second stop signal) */
  stopCut: number;
  /** clients in the accept queues of the listening sockets the stop closed (the kernel reset them) */
  stopQueueReset: number;
}

export class WorkersView {
  constructor(
    private readonly f64: Float64Array,
    private readonly at: Layout,
  ) {}

  /**
   * A worker reports it is alive at `now` (ms since epoch), with its event-loop
   * lag since its previous beat (ms, LoopLag.read) and CPU seconds.
   */
  beat(worker: number, now: number, loopLagMs: number, cpuUser: number, cpuSystem: number): void {
    const s = this.at.workerStripe(worker);
    this.f64[s + WorkerStripe.Heartbeat] = now;
    this.f64[s + WorkerStripe.LoopLag] = loopLagMs;
    this.f64[s + WorkerStripe.CpuUser] = cpuUser;
    this.f64[s + WorkerStripe.CpuSystem] = cpuSystem;
  }
  connectionOpened(worker: number): void {
    const s = this.at.workerStripe(worker);
    this.f64[s + WorkerStripe.Active]! += 1;
    this.f64[s + WorkerStripe.Accepted]! += 1;
  }
  connectionClosed(worker: number): void {
    this.f64[this.at.workerStripe(worker) + WorkerStripe.Active]! -= 1;
  }
  /** Which relay the worker runs: the native one, waited on as said (wait.c), or null: Node sockets. */
  setNativeRelay(worker: number, wait: 'watched' | 'in_place' | null): void {
    this.f64[this.at.workerStripe(worker) + WorkerStripe.NativeRelay] = wait === null ? 0 : wait === 'watched' ? 1 : 2;
  }
  /** The worker counted `n` refusal access lines instead of writing them. */
  countAccessSuppressed(worker: number, n: number): void {
    this.f64[this.at.workerStripe(worker) + WorkerStripe.AccessSuppressed]! += n;
  }
  countStart(worker: number): void {
    this.f64[this.at.workerStripe(worker) + WorkerStripe.Starts]! += 1;
  }
  /** An exception inside netmon: one connection reset for it, or the worker ended by it. */
  countInternalError(worker: number): void {
    this.f64[this.at.workerStripe(worker) + WorkerStripe.InternalErrors]! += 1;
  }
  /** A backend connect failed for want of a file descriptor (EMFILE/ENFILE). */
  countFdConnectFailure(worker: number): void {
    this.f64[this.at.workerStripe(worker) + WorkerStripe.FdConnectFailures]! += 1;
  }
  /** The worker paused (`paused`, counted) or resumed accepting for want of file descriptors. */
  setAcceptPaused(worker: number, paused: boolean): void {
    const s = this.at.workerStripe(worker);
    if (paused) this.f64[s + WorkerStripe.FdAcceptPauses]! += 1;
    this.f64[s + WorkerStripe.AcceptPaused] = paused ? 1 : 0;
  }
  /** The file descriptor limit the worker read (RLIMIT_NOFILE, Infinity: unlimited): the one it pauses accepting by. */
  setFdLimit(worker: number, limit: number): void {
    this.f64[this.at.workerStripe(worker) + WorkerStripe.FdLimit] = limit;
  }
  /**
   * The worker's stop cut `connections` open connections with a reset, and
   * closed listening sockets with `queued` clients in their accept queues.
   */
  countStopResets(worker: number, connections: number, queued: number): void {
    const s = this.at.workerStripe(worker);
    this.f64[s + WorkerStripe.StopCut]! += connections;
    this.f64[s + WorkerStripe.StopQueueReset]! += queued;
  }
  stats(worker: number): WorkerStats {
    const s = this.at.workerStripe(worker);
    return {
      heartbeat: this.f64[s + WorkerStripe.Heartbeat]!,
      loopLagMs: this.f64[s + WorkerStripe.LoopLag]!,
      cpuUser: this.f64[s + WorkerStripe.CpuUser]!,
      cpuSystem: this.f64[s + WorkerStripe.CpuSystem]!,
      active: this.f64[s + WorkerStripe.Active]!,
      accepted: this.f64[s + WorkerStripe.Accepted]!,
      starts: this.f64[s + WorkerStripe.Starts]!,
      nativeRelay: this.f64[s + WorkerStripe.NativeRelay]! >= 1,
      relayInPlace: this.f64[s + WorkerStripe.NativeRelay] === 2,
      accessSuppressed: this.f64[s + WorkerStripe.AccessSuppressed]!,
      internalErrors: this.f64[s + WorkerStripe.InternalErrors]!,
      fdAcceptPauses: this.f64[s + WorkerStripe.FdAcceptPauses]!,
      fdConnectFailures: this.f64[s + WorkerStripe.FdConnectFailures]!,
      acceptPaused: this.f64[s + WorkerStripe.AcceptPaused] === 1,
      fdLimit: this.f64[s + WorkerStripe.FdLimit]!,
      stopCut: this.f64[s + WorkerStripe.StopCut]!,
      stopQueueReset: this.f64[s + WorkerStripe.StopQueueReset]!,
    };
  }
  /** A worker died: its connections are gone. Returns how many it counted open. Main thread only, after the worker's exit. */
  releaseWorker(worker: number): number {
    const at = this.at.workerStripe(worker) + WorkerStripe.Active;
    const open = this.f64[at]!;
    this.f64[at] = 0;
    // its listeners closed with it
    this.f64[this.at.workerStripe(worker) + WorkerStripe.AcceptPaused] = 0;
    return open;
  }
}
