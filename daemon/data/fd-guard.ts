// A worker stops accepting before the process runs out of file descriptors and
// starts again once some are free, as HAProxy pauses a listener on EMFILE
// (limit_listener) rather than accept what it cannot serve. Node's event loop
// (libuv) has no call to stop polling a listening socket, and at the limit it
// accepts each pending connection and closes it at once (its EMFILE trick),
// which a client takes for a connection served and ended. So a worker short of
// descriptors closes the listening sockets it opened and reopens them when
// descriptors are free: meanwhile the kernel refuses new clients (ECONNREFUSED:
// they retry, or go to another instance); the clients already connected and
// waiting in a socket's accept queue when it closes are reset by the kernel
// (ECONNRESET), counted as refused (fd_exhaustion) from the queue's length read
// just before the close. Sockets passed by systemd stay open: closed, they
// could not be reopened.
import { log } from '../log.js';
import { LogThrottle } from '../log-throttle.js';
import { fdLimit, fdReserve, openFds } from '../process-fds.js';
import type { Table } from '../state/table.js';

/** The worker's listening sockets, as the guard pauses and resumes them. */
export interface Listening {
  /**
   * Close every listening socket the worker can reopen; returns the listeners'
   * names and the clients that were waiting in their accept queues (the kernel
   * reset them; counted as refused, fd_exhaustion).
   */
  pause(): { listeners: string[]; reset: number };
  /** Reopen what pause() closed; resolves with the names that could not be reopened yet. */
  resume(): Promise<string[]>;
  /**
   * The limit less the reserve, at each read of the limit: an acceptor that
   * takes clients in batches (the native relay) stops at that descriptor number.
   */
  ceiling(fds: number): void;
}

/** ms between checks while paused: quick at first, then once a second */
const RESUME_BACKOFF_MS = [100, 250, 500, 1000];
/**
 * Accepts between two counts of the open descriptors and reads of the limit:
 * as many as this worker's share of the free ones above the reserve allows
 * (two descriptors per connection), and at most maxBudget(). A limit lowered
 * while running (prlimit) is seen within that many accepts per worker however
 * fast they come, not only at the next heartbeat. Workers count apart: when
 * one pauses, each other one may still accept what is left of its budget,
 * which the reserve must hold: half of it for all the workers together, and
 * eight accepts each at the least (2 x 16 descriptors for two workers with
 * the least reserve, 32; with 1,024, and then 32, a burst of connections ran
 * into EMFILE, where libuv accepts and closes them). A larger reserve (a
 * higher limit: fdReserve) lets a worker count less often: every 39 accepts
 * with 20,000 descriptors and two workers. `reserve` in descriptors.
 */
export function maxBudget(reserve: number, workers: number): number {
  return Math.max(8, Math.floor(reserve / (4 * Math.max(1, workers))));
}

const exhaustionLog = new LogThrottle(5, 10_000);

export class FdGuard {
  private limit: number;
  private reserve: number;
  /** accepts left before the descriptors are counted again */
  private budget = 0;
  private paused = false;
  private stopped = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;

  /** `workers`: how many threads share the process's descriptors. */
  constructor(
    private readonly table: Table,
    private readonly worker: number,
    private readonly workers: number,
    private readonly listening: Listening,
  ) {
    this.limit = Infinity;
    this.reserve = 0;
    this.readLimit();
  }

  /**
   * A client accepted while accepting is paused (the rest of an accept batch:
   * the native relay takes up to 64 at once, one already queued) is to be
   * refused rather than connected: fewer than half the reserve is free, so its
   * backend socket might find none (EMFILE) and the other worker needs the
   * rest. Counted afresh for each such client; never while accepting runs.
   */
  get short(): boolean {
    if (!this.paused || this.stopped) return false;
    const used = openFds();
    return used >= 0 && this.limit - used < this.reserve / 2;
  }

  /**
   * One connection was accepted. Cheap: the descriptors are counted (a stat
   * of /proc/self/fd) and the limit read again (/proc/self/limits) only when
   * this worker's share of the free ones, two per connection, may be spent,
   * or after maxBudget() accepts.
   */
  accepted(): void {
    if (--this.budget > 0 || this.paused || this.stopped) return;
    this.readLimit();
    const most = maxBudget(this.reserve, this.workers);
    if (!Number.isFinite(this.limit)) {
      this.budget = most;
      return;
    }
    const used = openFds();
    if (used < 0) {
      this.budget = most;
      return;
    }
    const free = this.limit - used;
    if (free < this.reserve) {
      this.pause(`${used} of ${this.limit} file descriptors open, fewer than ${this.reserve} free`);
      return;
    }
    this.budget = Math.max(1, Math.min(most, Math.floor((free - this.reserve) / (2 * this.workers))));
  }

  /**
   * EMFILE/ENFILE where a descriptor was needed: a backend connect (counted
   * as such, never against the backend) or an accept. Logged at a bounded
   * rate; the worker stops accepting.
   */
  exhausted(err: NodeJS.ErrnoException, where: 'connect' | 'accept'): void {
    if (where === 'connect') this.table.workers.countFdConnectFailure(this.worker);
    exhaustionLog.write('warn', `out of file descriptors (${err.code ?? 'EMFILE'}) on ${where}`, {
      worker: this.worker,
      where,
      code: err.code,
      open_fds: openFds(),
      limit: this.limit,
    });
    this.pause(`${err.code ?? 'EMFILE'} on ${where}`);
  }

  /**
   * Once a second (the worker's heartbeat): the limit may have been changed
   * (prlimit), and other threads may have opened descriptors since the last
   * count: read the limit again and count afresh at the next accept.
   */
  tick(): void {
    if (this.paused || this.stopped) return;
    this.readLimit();
    this.budget = 0;
  }

  /** The worker stops: no more pausing or reopening. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  // The limit as it is now (at the limit itself it cannot be read: the last one
  // is kept), published for the main thread: the one the fd_exhaustion alert quotes.
  private readLimit(): void {
    this.limit = fdLimit(this.limit);
    this.reserve = fdReserve(this.limit);
    this.table.workers.setFdLimit(this.worker, this.limit);
    this.listening.ceiling(this.limit - this.reserve);
  }

  private pause(reason: string): void {
    if (this.paused || this.stopped) return;
    this.paused = true;
    const closed = this.listening.pause();
    this.table.workers.setAcceptPaused(this.worker, true);
    log.warn(
      'out of file descriptors (EMFILE ahead): stopped accepting until some are free; clients are refused meanwhile',
      {
        worker: this.worker,
        reason,
        listeners: closed.listeners,
        // connected, never accepted: reset by the kernel as the listening sockets closed
        accept_queue_reset: closed.reset,
        open_fds: openFds(),
        limit: this.limit,
        reserve: this.reserve,
      },
    );
    this.attempt = 0;
    this.schedule();
  }

  private schedule(): void {
    const ms = RESUME_BACKOFF_MS[Math.min(this.attempt, RESUME_BACKOFF_MS.length - 1)]!;
    this.attempt++;
    this.timer = setTimeout(() => void this.tryResume(), ms);
  }

  // Reopen only with twice the reserve free, so that a worker does not flap
  // between accepting one connection and pausing again.
  private async tryResume(): Promise<void> {
    this.timer = null;
    if (this.stopped || !this.paused) return;
    this.readLimit(); // raised meanwhile (prlimit, ulimit)? counts from now
    const used = openFds();
    if (used >= 0 && this.limit - used < 2 * this.reserve) return this.schedule();
    const still = await this.listening.resume();
    if (this.stopped) return;
    if (still.length > 0) return this.schedule();
    this.paused = false;
    this.budget = 0;
    this.table.workers.setAcceptPaused(this.worker, false);
    log.info('file descriptors free again: accepting', { worker: this.worker, open_fds: openFds(), limit: this.limit });
  }
}
