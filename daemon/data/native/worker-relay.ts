// The native relay's part of one worker thread ([data] relay, relay.ts): the
// one owner of whether the relay runs here, of the listeners it accepts on,
// and of who accepts on each listener: the relay itself, or Node sockets for a
// listener whose clients are read first (a PROXY header, a peek with routes)
// and then handed to the relay. The worker (../worker.ts) opens a native listener through it
// and is handed each client the relay accepts; it serves that client, guarded
// as every other connection is (../fault-guard.ts).
//
// File descriptors: the relay's sockets are the process's like Node's, so the
// worker's fd guard (../fd-guard.ts) counts them in /proc/self/fd and is told
// of each native accept. Out of descriptors, the relay's own accept stops for
// 100 ms (listen.c: the client stays in the backlog, never accepted and closed
// as libuv does) and reports EMFILE here, which pauses the worker's guard: it
// closes the native listeners it can reopen as it closes Node's (listen()
// again on resume), so that new clients are refused while descriptors are
// short. A socket passed by systemd stays open, served by that backoff alone.
import { constants } from 'node:os';
import { getSystemErrorMessage, getSystemErrorName } from 'node:util';
import { log } from '../../log.js';
import type { RelayMode } from '../../config/schema.js';
import type { Table } from '../../state/table.js';
import type { ListenerEdge } from '../edge/listener-edge.js';
import type { ListenerRuntime, ListeningSocket } from '../worker-context.js';
import { loadRelayAddon } from './addon.js';
import type { AcceptedClient } from './connection.js';
import { NativeRelay, type RelayListeners } from './relay.js';

/** at most one log line per listener per interval for accept failures other than EMFILE/ENFILE */
const ACCEPT_ERROR_LOG_MS = 10_000;
const { EMFILE, ENFILE } = constants.errno;

/** What the worker does with what the relay's listeners report. */
export interface NativeAccepts {
  /** A client the relay accepted on `rt`'s listener: serve it, or close it (relay.close). */
  serveAccepted(rt: ListenerRuntime, relay: NativeRelay, client: AcceptedClient): void;
  /** accept(2) on a native listener failed with EMFILE or ENFILE. */
  outOfFdsOnAccept(err: NodeJS.ErrnoException): void;
}

/** How a listener is served: who accepts on it, and whether the relay moves its bytes. */
export type Serving = Pick<ListenerRuntime, 'accept' | 'native'>;

export class WorkerRelay implements RelayListeners {
  /** the native relay, once started on this thread; null: Node sockets relay */
  private relay: NativeRelay | null = null;
  /** why the native relay is not running, when it was wanted */
  private problem: string | null = null;
  /** [data] relay of the applied plan */
  private mode: RelayMode = 'auto';
  /** listeners the relay accepts on, by the key given to it */
  private readonly listeners = new Map<number, ListenerRuntime>();
  /**
   * listeners closed since the last heartbeat: a batch of accepts is handed
   * over as one, and the fd guard (or a stop, or a reload) may close the
   * listener while the batch is served; the rest of it is served as the first
   * clients were (under the guard, refused and counted when descriptors are
   * short), never reset unseen
   */
  private readonly retired = new Map<number, ListenerRuntime>();
  private nextKey = 1;
  private readonly errorLogged = new Map<number, number>();
  /** the relay waits in the event loop's place (settle) */
  private inPlace = false;
  /** the last fdCeiling, given to a relay started after it */
  private fdCeilingNow = 0;

  constructor(
    private readonly table: Table,
    private readonly worker: number,
    private readonly host: NativeAccepts,
  ) {}

  /**
   * Apply a plan's [data] relay: start the native relay when it is wanted and
   * not running yet. It cannot be stopped once started: with "js" it keeps its
   * connections, and listeners are opened on Node again.
   */
  use(mode: RelayMode): void {
    this.mode = mode;
    if (mode !== 'js' && this.relay === null) this.start(mode);
    // while listeners are opened, closed and moved the loop watches the relay: a Node server may be opened
    this.waitInPlace(false);
    this.publish();
  }

  /**
   * After a plan is applied: the relay waits in the event loop's place while
   * it relays and every listener accepts in it, so that Node watches no socket
   * on this thread (native/wait.c says why that is needed).
   */
  settle(listeners: Iterable<ListenerRuntime>): void {
    const all = [...listeners];
    this.waitInPlace(this.relaying !== null && all.every((rt) => rt.accept === 'native'));
    this.publish();
  }

  /**
   * The descriptor number the relay's accepting stops at (fd-guard.ts: the
   * limit less the reserve; Infinity: none), so that a batch of accepts leaves
   * descriptors for the backend sockets its clients will want.
   */
  fdCeiling(n: number): void {
    this.fdCeilingNow = Number.isFinite(n) ? Math.max(1, Math.floor(n)) : 0;
    this.relay?.fdCeiling(this.fdCeilingNow);
  }

  /** netmon_worker_native_relay and how the relay waits: written at each plan and heartbeat. */
  publish(): void {
    // a heartbeat comes between two batches of events: no accept of a listener closed before it is left
    this.retired.clear();
    const relaying = this.relaying !== null;
    this.table.workers.setNativeRelay(this.worker, relaying ? (this.inPlace ? 'in_place' : 'watched') : null);
  }

  private waitInPlace(on: boolean): void {
    if (this.relay === null || this.inPlace === on) return;
    const e = this.relay.waitInPlace(on);
    if (e < 0) {
      log.warn('the native relay cannot change how it waits; it keeps its way', {
        in_place: on,
        err: getSystemErrorMessage(e),
      });
      return;
    }
    this.inPlace = on;
    log.debug('native relay wait', { in_place: on });
  }

  /** the relay to relay with now: none when the plan says js */
  get relaying(): NativeRelay | null {
    return this.mode === 'js' ? null : this.relay;
  }

  /** Why a listener cannot be served (fail closed: "native" asked for and not running), or null. */
  get refusal(): string | null {
    if (this.mode !== 'native' || this.relay !== null) return null;
    return `[data] relay = "native": ${this.problem ?? 'the native relay is not running'}`;
  }

  /**
   * Who accepts on a listener and who relays it: with the native relay running,
   * it relays every listener (every feature is implemented on both relays), and
   * accepts on those whose clients need nothing read first.
   */
  serving(edge: ListenerEdge | null): Serving {
    const native = this.relaying !== null;
    return { accept: native && !(edge?.preamble ?? false) ? 'native' : 'node', native };
  }

  /** Open `rt`'s socket in the native relay. Throws what listen(2) said (`code`: its errno name), as net.Server would. */
  listen(rt: ListenerRuntime): ListeningSocket {
    const relay = this.relay!;
    const lp = rt.plan;
    const key = this.nextKey++;
    const e = relay.listen(key, lp.bind.host, lp.bind.port, lp.backlog, lp.fd);
    if (e < 0) {
      const where = lp.fd !== undefined ? `fd ${lp.fd}` : lp.bind.text;
      throw errnoError(e, `listen ${getSystemErrorName(e)}: ${getSystemErrorMessage(e)} ${where}`);
    }
    this.listeners.set(key, rt);
    let listening = true;
    return {
      get listening() {
        return listening;
      },
      close: () => {
        if (!listening) return 0;
        listening = false;
        const queued = relay.unlisten(key);
        this.listeners.delete(key);
        this.retired.set(key, rt);
        this.errorLogged.delete(key);
        return queued;
      },
    };
  }

  // ---- RelayListeners ----

  accepted(key: number, id: number, address: string, port: number, at: number): void {
    const rt = this.listeners.get(key) ?? this.retired.get(key);
    if (rt === undefined) {
      // not a listener of this worker (cannot happen: keys are never reused): never served, a reset
      this.relay!.close(id, true);
      return;
    }
    this.host.serveAccepted(rt, this.relay!, { id, address, port, at });
  }

  listenError(key: number, errno: number): void {
    const message = `${getSystemErrorName(-errno)}: ${getSystemErrorMessage(-errno)}`;
    // logged and counted by the fd guard, which stops every listener it can reopen
    if (errno === EMFILE || errno === ENFILE) return this.host.outOfFdsOnAccept(errnoError(-errno, message));
    const rt = this.listeners.get(key);
    const now = Date.now();
    if (rt === undefined || now - (this.errorLogged.get(key) ?? 0) < ACCEPT_ERROR_LOG_MS) return;
    this.errorLogged.set(key, now);
    log.warn('accept failed: not accepting for 100 ms', { listener: rt.plan.name, err: message });
  }

  private start(mode: RelayMode): void {
    const loaded = loadRelayAddon();
    let problem: string;
    if ('error' in loaded) problem = loaded.error;
    else {
      try {
        this.relay = new NativeRelay(loaded.addon, this.table, this);
        this.relay.fdCeiling(this.fdCeilingNow);
        this.problem = null;
        return;
      } catch (err) {
        problem = (err as Error).message;
      }
    }
    // auto: Node sockets relay instead, said once and shown by netmon_worker_native_relay = 0
    if (mode === 'auto' && this.problem === null)
      log.warn('native relay unavailable: the JavaScript relay runs', { err: problem });
    this.problem = problem;
  }
}

/** An Error with `code` set from a negative errno, as Node's own socket errors carry it. */
function errnoError(negErrno: number, message: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(message);
  err.code = getSystemErrorName(negErrno);
  err.errno = negErrno;
  return err;
}
