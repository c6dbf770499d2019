// Loading the native relay (binding.c, relay.c in this folder), built by
// `make build` into build/netmon-relay.node with the machine's C compiler
// against the Node-API headers of the Node it runs on. Node-API is ABI-stable,
// so one build serves every worker thread and later Node releases. When the
// file is missing or does not load, the worker relays with Node sockets and
// says so (worker.ts).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The addon's descriptor counters (fds.c), which need no relay: any thread may call them. */
export interface FdAddon {
  /** Open descriptors of the process (a statx of /proc/self/fd); -1 when not known (Linux before 6.2). */
  openFds(): number;
  /** The soft RLIMIT_NOFILE (getrlimit); -1 when unlimited. */
  fdLimit(): number;
  /** Clients in the accept queue of the listening socket `fd` (TCP_INFO); -1 when it is not one. */
  acceptQueue(fd: number): number;
}

/**
 * The addon's functions (binding.c documents each). Ids are the relay's
 * connection ids (numbers, never reused); errors are returned as -errno.
 */
export interface RelayAddon extends FdAddon {
  /** Start the relay on this thread: byte counters go to `counters`; returns the event arrays (relay.ts). */
  init(counters: Float64Array, origin: number, onEvents: (count: number) => void): [Float64Array, Uint8Array];
  /** Listen for listener `key`: on host:port (IP literal), or on the listening socket `fd` (>= 0). 0 or -errno. */
  listen(key: number, host: string, port: number, backlog: number, fd: number): number;
  /** Close listener `key`'s socket; returns the clients that were in its accept queue (reset by the close), or -1. */
  unlisten(key: number): number;
  /** The port listener `key` is bound to, or -1. */
  listenPort(key: number): number;
  /** Take a duplicate of a connected client socket: its connection id, or -errno. */
  adopt(fd: number): number;
  /**
   * Connect `id` to host:port (IP literal) and relay once connected; `retry`
   * (relay.ts RelayRetry bits): the empty answers that fail the attempt. 0 or -errno.
   */
  connect(
    id: number,
    host: string,
    port: number,
    connectMs: number,
    idleMs: number,
    preface: Buffer | null,
    pending: Buffer | null,
    listenerIn: number,
    listenerOut: number,
    backendIn: number,
    backendOut: number,
    retry: number,
  ): number;
  /**
   * Set what `id` needs beyond moving bytes, before its first connect (relay.h
   * relay_options; 0 = off): the client idle timeout and the first-byte timeout
   * (ms), the replay buffer and the bytes watched for the protocol (bytes). 0 or -errno.
   */
  configure(id: number, clientIdleMs: number, firstByteMs: number, replayBytes: number, watchBytes: number): number;
  /** Close `id` now (reset: RST to both sides). 0 or -errno; its bytes are then in closedBytes(). */
  close(id: number, reset: boolean): number;
  /** [bytes in, bytes out] of the connection the last close() closed. */
  closedBytes(): [number, number];
  /** [local address, local port, peer address, peer port] of the client socket of `id`, or null. */
  addresses(id: number): [string, number, string, number] | null;
  /** [open connections, events dropped for want of memory] */
  stats(): [number, number];
  /**
   * true: the relay waits in the event loop's place (one epoll_wait per wake-up;
   * only while Node watches no socket on this thread); false: the loop watches
   * the relay's epoll fd. 0 or -errno (it stays as it was).
   */
  waitInPlace(on: boolean): number;
  /** Accepting stops short of descriptor number `n` (relay.h: relay_set_fd_ceiling); 0: no ceiling. */
  fdCeiling(n: number): void;
}

/** Where `make build` puts the addon; NETMON_RELAY_ADDON names another build (the AddressSanitizer one). */
function addonPath(): string {
  return (
    process.env['NETMON_RELAY_ADDON'] ?? fileURLToPath(new URL('../../../../build/netmon-relay.node', import.meta.url))
  );
}

/** The addon, or why it cannot be used here. */
export function loadRelayAddon(): { addon: RelayAddon } | { error: string } {
  const path = addonPath();
  try {
    const addon = createRequire(import.meta.url)(path) as RelayAddon;
    if (typeof addon.init !== 'function') return { error: `${path} is not the native relay` };
    return { addon };
  } catch (err) {
    return { error: `cannot load ${path}: ${(err as Error).message.split('\n')[0]}` };
  }
}
