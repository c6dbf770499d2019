// Keeps a bug on one connection's path inside that connection. Every event its
// sockets emit runs the handlers inside one try/catch (a per-socket `emit`, so
// whatever handler is added later is covered too, whichever way Node dispatches
// the event: read callback, nextTick, connect or write request); its timers and
// promise callbacks are wrapped the same way. An exception there goes to the
// connection's owner, which resets the connection, logs and counts it
// (netmon_internal_errors_total); the worker and every other connection go on.
// What escapes anyway (code outside any connection) ends the worker through its
// last-resort handler (worker.ts), which resets every connection it held first.
import net from 'node:net';
import { LogThrottle } from '../log-throttle.js';
import type { Table } from '../state/table.js';

/** What a guarded socket or timer reports to. */
export interface FaultOwner {
  /** An exception on this connection's path (`where`: the event or callback): reset it. Must not throw. */
  fault(err: unknown, where: string): void;
}

const OWNER = Symbol('netmon.faultOwner');
type GuardedSocket = net.Socket & { [OWNER]: FaultOwner };
// EventEmitter's, which net.Socket inherits; typed loosely, as it dispatches any event
const socketEmit = net.Socket.prototype.emit as (this: net.Socket, ...args: unknown[]) => boolean;

function guardedEmit(this: GuardedSocket, ...args: unknown[]): boolean {
  try {
    return socketEmit.apply(this, args);
  } catch (err) {
    this[OWNER].fault(err, `socket '${String(args[0])}' event`);
    return true;
  }
}

/** Route every exception thrown by `socket`'s event handlers to `owner`. */
export function guardSocket(socket: net.Socket, owner: FaultOwner): void {
  const s = socket as GuardedSocket;
  s[OWNER] = owner;
  s.emit = guardedEmit;
}

function runGuarded(owner: FaultOwner, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    owner.fault(err, 'timer');
  }
}

/** setTimeout whose callback's exceptions go to `owner` (no closure: the arguments ride on the timer). */
export function guardedTimeout(owner: FaultOwner, fn: () => void, ms: number): NodeJS.Timeout {
  return setTimeout(runGuarded, ms, owner, fn);
}

/**
 * Close `socket` with a reset (RST) rather than a FIN: the peer learns that the
 * stream was cut, not that it was complete. Destroyed plainly instead: a socket
 * still connecting (the kernel answers a late SYN-ACK with a reset), and one
 * whose FIN is still queued behind unsent bytes (end() called, not finished):
 * libuv refuses to reset a stream while its shutdown is pending, and Node then
 * loses the handle, which keeps the worker's thread from ever exiting.
 */
export function resetSocket(socket: net.Socket | null): void {
  if (socket === null || socket.destroyed) return;
  if (socket.connecting || (socket.writableEnded && !socket.writableFinished)) {
    socket.destroy();
    return;
  }
  try {
    socket.resetAndDestroy();
  } catch {
    // not a TCP handle (cannot happen for listeners netmon opens): a plain close
    socket.destroy();
  }
}

// a bug hit by every connection must not write a stack per connection
const faultLog = new LogThrottle(10, 10_000);

/** Log (at a bounded rate) and count one exception inside netmon on `worker`. */
export function reportFault(table: Table, worker: number, err: unknown, fields: Record<string, unknown>): void {
  table.workers.countInternalError(worker);
  const e = err instanceof Error ? err : new Error(String(err));
  faultLog.write('error', 'internal error on a connection: reset it, the worker goes on', {
    worker,
    ...fields,
    err: { name: e.name, message: e.message, stack: e.stack },
  });
}
