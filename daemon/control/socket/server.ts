// The control socket: a Unix stream socket that answers the command table
// (commands.ts) through a ControlContext. Startup is careful with the path: a
// socket file left by a crashed daemon is replaced, a live daemon on the path is
// never displaced, and a path that is not a socket is never removed. Clients
// share the main thread through one LineScheduler (bounded work per event-loop
// turn), and at the client limit the longest idle client makes room for a new
// one, so silent clients cannot lock an operator out.
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { NetmonError } from '../../errors.js';
import { log } from '../../log.js';
import { BoundedWarning } from './bounded-warning.js';
import { ControlConnection, type ClosedReason } from './connection.js';
import type { ControlContext } from './context.js';
import { DEFAULT_TURN_BUDGET_MS, LineScheduler } from './line-scheduler.js';
import { textError } from './protocol.js';

export interface ControlServerOptions {
  path: string;
  context: ControlContext;
  /** file mode of the socket; group members may connect with 0o660 */
  mode?: number;
  /** longest request line; a longer one gets E_LINE_TOO_LONG and the client is closed */
  maxLineBytes?: number;
  /**
   * clients at once; at the limit the longest idle one is closed (E_TOO_MANY_CLIENTS) to
   * make room, and only when none is idle is the new one refused
   */
  maxClients?: number;
  /** ms a client has to send a complete line (from connecting, or from a line's first byte); then E_LINE_TIMEOUT */
  lineTimeoutMs?: number;
  /** ms a client that has been answered may stay silent before it is closed */
  idleTimeoutMs?: number;
  /** unsent output a client may have queued before it is dropped (it does not read) */
  maxBufferedBytes?: number;
  /** ms of request handling per event-loop turn, across all clients */
  turnBudgetMs?: number;
}

export interface ControlServerStats {
  clients: number;
  accepted: number;
  /** refused at the limit with no idle client to close */
  rejected: number;
  /** closed for not reading their replies */
  dropped: number;
  /** closed, by reason (evicted, line_timeout, idle_timeout, line_too_long, slow_reader) */
  closed: Record<ClosedReason, number>;
}

export interface ControlServer {
  readonly address: string;
  stats(): ControlServerStats;
  /** stops listening, closes every client and removes the socket file */
  close(): Promise<void>;
}

const DEFAULTS = {
  mode: 0o660,
  maxLineBytes: 64 * 1024,
  maxClients: 1000,
  // HAProxy's stats socket closes a silent CLI client after 10 s (`stats timeout`)
  lineTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  maxBufferedBytes: 4 * 1024 * 1024,
} as const;

/** sockaddr_un.sun_path is 108 bytes with the terminating NUL */
const MAX_PATH_BYTES = 107;
const PROBE_TIMEOUT_MS = 1000;
/** subscribers of one tick share one serialized snapshot */
const SNAPSHOT_SHARE_MS = 50;

type Probe = 'absent' | 'stale' | 'live';

function errno(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? '';
}

/** Is something answering on the path? ECONNREFUSED means a socket file with no listener behind it. */
function probe(path: string): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const s: Socket = createConnection({ path });
    const timer = setTimeout(() => {
      s.destroy();
      resolve('live'); // accepted by the kernel but slow to answer: still someone's socket
    }, PROBE_TIMEOUT_MS);
    s.once('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve('live');
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      const code = errno(e);
      if (code === 'ECONNREFUSED') resolve('stale');
      else if (code === 'ENOENT') resolve('absent');
      else if (code === 'EAGAIN')
        resolve('live'); // backlog full: a busy live daemon
      else reject(e);
    });
  });
}

async function prepare(path: string): Promise<void> {
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) {
    throw new NetmonError('E_SOCKET_PATH', `${path}: longer than ${MAX_PATH_BYTES} bytes, the Unix socket limit`);
  }
  let st;
  try {
    st = await lstat(path);
  } catch (e) {
    if (errno(e) !== 'ENOENT') throw new NetmonError('E_SOCKET_PATH', `${path}: ${(e as Error).message}`);
    await mkdir(dirname(path), { recursive: true, mode: 0o755 }).catch((err: unknown) => {
      throw new NetmonError(
        'E_SOCKET_PATH',
        `${dirname(path)}: cannot create the directory: ${(err as Error).message}`,
      );
    });
    return;
  }
  if (!st.isSocket()) {
    throw new NetmonError('E_SOCKET_PATH', `${path} exists and is not a socket; not removing it`);
  }
  let state: Probe;
  try {
    state = await probe(path);
  } catch (e) {
    throw new NetmonError('E_SOCKET_PATH', `${path}: cannot check the existing socket: ${(e as Error).message}`);
  }
  if (state === 'live') {
    throw new NetmonError('E_SOCKET_IN_USE', `${path}: another netmon is running and answering on this socket`);
  }
  if (state === 'stale') {
    log.warn('replacing a stale control socket (left by a daemon that did not stop cleanly)', { path });
    await unlink(path).catch((e: unknown) => {
      if (errno(e) !== 'ENOENT')
        throw new NetmonError('E_SOCKET_PATH', `${path}: cannot remove the stale socket: ${(e as Error).message}`);
    });
  }
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => {
      server.off('listening', onListening);
      if (errno(e) === 'EADDRINUSE') {
        reject(new NetmonError('E_SOCKET_IN_USE', `${path}: another process created this socket while starting`));
      } else {
        reject(new NetmonError('E_SOCKET_PATH', `${path}: cannot listen: ${e.message}`));
      }
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ path, exclusive: true });
  });
}

export async function startControlServer(options: ControlServerOptions): Promise<ControlServer> {
  const { path, context } = options;
  const mode = options.mode ?? DEFAULTS.mode;
  const maxClients = options.maxClients ?? DEFAULTS.maxClients;
  const limits = {
    maxLineBytes: options.maxLineBytes ?? DEFAULTS.maxLineBytes,
    lineTimeoutMs: options.lineTimeoutMs ?? DEFAULTS.lineTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
    maxBufferedBytes: options.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes,
  };
  await prepare(path);

  const clients = new Set<ControlConnection>();
  /** clients waiting for input, longest idle first (insertion order) */
  const idle = new Set<ControlConnection>();
  const scheduler = new LineScheduler(options.turnBudgetMs ?? DEFAULT_TURN_BUDGET_MS);
  const closed: Record<ClosedReason, number> = {
    evicted: 0,
    line_timeout: 0,
    idle_timeout: 0,
    line_too_long: 0,
    slow_reader: 0,
  };
  const stats = { accepted: 0, rejected: 0 };
  // one line per 10 s at most, however many clients a flood brings
  const warning = new BoundedWarning('control socket clients closed or refused', { maxClients, ...limits });
  let shared: { at: number; json: string } | undefined;
  const hooks = {
    snapshotJson: (): string => {
      const now = Date.now();
      if (!shared || now - shared.at >= SNAPSHOT_SHARE_MS)
        shared = { at: now, json: JSON.stringify(context.snapshot()) };
      return shared.json;
    },
    scheduler,
    onIdle: (c: ControlConnection) => {
      if (!idle.has(c)) idle.add(c);
    },
    onBusy: (c: ControlConnection) => {
      idle.delete(c);
    },
    onClosedFor: (reason: ClosedReason) => {
      closed[reason]++;
      // an idle client closed at its timeout is the normal end of a forgotten session
      if (reason !== 'idle_timeout') warning.note(reason);
    },
    onClose: (c: ControlConnection) => {
      clients.delete(c);
      idle.delete(c);
    },
  };

  const server = createServer({ allowHalfOpen: true }, (socket) => {
    if (clients.size >= maxClients) {
      const victim = idle.values().next().value;
      if (victim === undefined) {
        stats.rejected++;
        warning.note('refused');
        socket.on('error', () => {});
        socket.end(
          textError({
            code: 'E_TOO_MANY_CLIENTS',
            message: `the control socket already has ${maxClients} busy clients`,
          }),
        );
        setTimeout(() => socket.destroy(), 1000).unref();
        return;
      }
      clients.delete(victim);
      idle.delete(victim);
      victim.evict(maxClients);
    }
    stats.accepted++;
    clients.add(new ControlConnection(socket, context, limits, hooks));
  });
  server.on('error', (e) => log.error('control socket error', { path, err: e }));

  await listen(server, path);
  let ino: number;
  try {
    await chmod(path, mode);
    ino = (await lstat(path)).ino;
  } catch (e) {
    server.close();
    throw new NetmonError('E_SOCKET_PATH', `${path}: cannot set mode ${mode.toString(8)}: ${(e as Error).message}`);
  }
  log.info('control socket listening', { path, mode: mode.toString(8) });

  let closing: Promise<void> | undefined;
  return {
    address: path,
    stats: () => ({ clients: clients.size, ...stats, dropped: closed.slow_reader, closed: { ...closed } }),
    close: () =>
      (closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        scheduler.stop();
        warning.close();
        for (const c of clients) c.destroy();
        await stopped;
        // remove the file only if it is still ours (not a successor's socket)
        const st = await lstat(path).catch(() => undefined);
        if (st?.isSocket() && st.ino === ino) await unlink(path).catch(() => undefined);
      })()),
  };
}
