// Test hook: faults the main thread arms on a listener (Daemon.injectFault, used
// by the tests and `make soak`), so that each connection the listener accepts
// meets a bug on its path, as connections once met the TypeError of a listener
// whose pool was "" (a config now refused); and a worker's event loop blocked
// for a known time (Daemon.stallWorker), which its loop lag must show. Not
// reachable from the config or the control socket.
import type net from 'node:net';
import type { FaultOwner } from './fault-guard.js';
import { guardedTimeout } from './fault-guard.js';
import type { InjectedFault } from './plan.js';
import type { PoolRuntime } from './pool-queue.js';
import type { ListenerRuntime } from './worker-context.js';

function injected(): never {
  throw new TypeError('injected fault');
}

/** The runtime a connection of an armed listener gets. */
export function faultyRuntime(at: InjectedFault, rt: ListenerRuntime): ListenerRuntime {
  return at === 'accept' ? { ...rt, pool: undefined as unknown as PoolRuntime } : rt;
}

/** Plant the fault on a connection just created on an armed listener. */
export function plantFault(at: InjectedFault, owner: FaultOwner, client: net.Socket): void {
  if (at === 'relay') client.on('data', injected);
  else if (at === 'timer') guardedTimeout(owner, injected, 1);
}

/** An exception outside any connection: the worker's last-resort handler ends it. */
export function crashSoon(): void {
  setTimeout(() => {
    throw new Error('injected worker crash');
  }, 1);
}

/** The thread's event loop blocked for `ms` (a busy wait): what its loop lag must show. */
export function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // blocked on purpose
  }
}

/** A natively relayed connection (native/connection.ts), as a fault is planted on it. */
interface NativeFaultTarget extends FaultOwner {
  /** The relay's connect event about it throws in its handler; it is never kept as a spare. */
  throwOnRelayEvent(thrower: () => never): void;
}

/**
 * Plant the fault on a connection the native relay accepted: its bytes never
 * reach JavaScript, so `relay` throws in the handler of the relay's connect
 * event (the same dispatch that carries its first byte's and its end's).
 */
export function plantNativeFault(at: InjectedFault, c: NativeFaultTarget): void {
  if (at === 'relay') c.throwOnRelayEvent(injected);
  else if (at === 'timer') guardedTimeout(c, injected, 1);
}
