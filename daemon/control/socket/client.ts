// Client side of the control socket, for `netmon ctl`, the dashboard and tests:
// JSON requests over one connection, and a subscription that reconnects.
import { createConnection, type Socket } from 'node:net';
import { isErrorCode, NetmonError, type ErrorPayload } from '../../errors.js';
import type { DaemonEvent, Snapshot } from '../snapshot/snapshot.js';

export interface RequestOptions {
  /** give up (E_CONTROL_TIMEOUT) after this long; default 5000 */
  timeoutMs?: number;
}

interface Reply {
  id: unknown;
  ok: boolean;
  data?: unknown;
  error?: ErrorPayload;
}

function connectError(path: string, e: NodeJS.ErrnoException): NetmonError {
  const hint =
    e.code === 'ENOENT' || e.code === 'ECONNREFUSED'
      ? 'is the daemon running? is this the socket path of its config ([control] socket)?'
      : e.code === 'EACCES' || e.code === 'EPERM'
        ? 'permission denied: run as the daemon user, root, or a member of the socket group'
        : 'is the daemon running?';
  return new NetmonError('E_CONTROL_CONNECT', `cannot connect to ${path}: ${e.code ?? e.message}; ${hint}`);
}

function replyError(e: ErrorPayload | undefined): NetmonError {
  const code = e && typeof e.code === 'string' && isErrorCode(e.code) ? e.code : 'E_INTERNAL';
  return new NetmonError(code, e?.message ?? 'error reply without a message');
}

/** Lines of a socket, as a callback per complete line. */
function onLines(socket: Socket, each: (line: string) => void): void {
  let buf = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) !== -1) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line !== '') each(line);
    }
  });
}

/** A non-JSON line from the server: a text error such as "error E_TOO_MANY_CLIENTS: ...". */
function parseReply(line: string): Reply {
  try {
    const v = JSON.parse(line) as Reply;
    if (typeof v === 'object' && v !== null && typeof v.ok === 'boolean') return v;
  } catch {
    // fall through: not JSON
  }
  const m = /^error (E_[A-Z_]+): (.*)$/.exec(line);
  if (m) return { id: null, ok: false, error: { code: m[1] as ErrorPayload['code'], message: m[2]! } };
  return { id: null, ok: false, error: { code: 'E_INTERNAL', message: `unexpected reply: ${line.slice(0, 200)}` } };
}

/** One connection; requests are answered in order, matched by id. */
export class ControlClient {
  private readonly pending = new Map<
    number,
    { resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout }
  >();
  private nextId = 1;
  private failure: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly path: string,
  ) {
    onLines(socket, (line) => this.onLine(line));
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () =>
      this.fail(new NetmonError('E_CONTROL_CONNECT', `${path}: the daemon closed the connection`)),
    );
  }

  /**
   * Connects within `opts.timeoutMs` (default 5000 ms). A full accept queue
   * (EAGAIN: the daemon is busy accepting other clients) is tried again every
   * 50 ms until then, as a TCP SYN would be retransmitted.
   * Rejects with E_CONTROL_CONNECT (no daemon, no permission) or E_CONTROL_TIMEOUT.
   */
  static connect(path: string, opts: RequestOptions = {}): Promise<ControlClient> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      let socket: Socket;
      let retry: NodeJS.Timeout | undefined;
      const timer = setTimeout(() => {
        clearTimeout(retry);
        socket.destroy();
        reject(new NetmonError('E_CONTROL_TIMEOUT', `${path}: no connection after ${timeoutMs} ms`));
      }, timeoutMs);
      const attempt = (): void => {
        socket = createConnection({ path });
        socket.once('error', (e: NodeJS.ErrnoException) => {
          if (e.code === 'EAGAIN') {
            retry = setTimeout(attempt, 50);
            return;
          }
          clearTimeout(timer);
          reject(connectError(path, e));
        });
        socket.once('connect', () => {
          clearTimeout(timer);
          socket.removeAllListeners('error');
          resolve(new ControlClient(socket, path));
        });
      };
      attempt();
    });
  }

  request(cmd: string, args: Record<string, unknown> = {}, opts: RequestOptions = {}): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const timeoutMs = opts.timeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new NetmonError('E_CONTROL_TIMEOUT', `${this.path}: no answer to "${cmd}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.socket.write(JSON.stringify({ id, cmd, args }) + '\n');
    });
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }

  /** Told once the connection is gone (the daemon closed it, or close() was called). */
  onClose(fn: () => void): void {
    if (this.socket.closed) queueMicrotask(fn);
    else this.socket.once('close', fn);
  }

  private onLine(line: string): void {
    const r = parseReply(line);
    const id = typeof r.id === 'number' ? r.id : [...this.pending.keys()][0];
    const p = id === undefined ? undefined : this.pending.get(id);
    if (!p || id === undefined) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (r.ok) p.resolve(r.data);
    else p.reject(replyError(r.error));
  }

  private fail(e: Error): void {
    this.failure ??= e instanceof NetmonError ? e : new NetmonError('E_CONTROL_CONNECT', `${this.path}: ${e.message}`);
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(this.failure);
    }
  }
}

/** One request on its own connection: `await request(path, 'show-backends', { pool: 'web' })`. */
export async function request(
  path: string,
  cmd: string,
  args: Record<string, unknown> = {},
  opts: RequestOptions = {},
): Promise<unknown> {
  const c = await ControlClient.connect(path, opts);
  try {
    return await c.request(cmd, args, opts);
  } finally {
    c.close();
  }
}

type SubscriptionMessage = { type: 'snapshot'; snapshot: Snapshot } | { type: 'event'; event: DaemonEvent };

export interface SubscribeOptions {
  /** snapshot interval, ms (min 100); default 1000 */
  intervalMs?: number;
  onSnapshot?(s: Snapshot): void;
  onEvent?(e: DaemonEvent): void;
  /** connected and subscribed (again) */
  onConnect?(): void;
  /** lost the daemon; `retryInMs` is null when not reconnecting */
  onDisconnect?(error: NetmonError, retryInMs: number | null): void;
  /** reconnect after losing the daemon (default true), with backoff from minDelayMs doubling to maxDelayMs */
  reconnect?: boolean;
  minDelayMs?: number;
  maxDelayMs?: number;
}

export interface Subscription {
  close(): void;
}

/**
 * A stream of snapshots and events. Reconnects by itself (unless told not to)
 * when the daemon restarts, so a dashboard survives `systemctl restart netmon`.
 */
export function subscribe(path: string, o: SubscribeOptions): Subscription {
  const min = o.minDelayMs ?? 250;
  const max = o.maxDelayMs ?? 5000;
  let delay = min;
  let closed = false;
  let socket: Socket | undefined;
  let retry: NodeJS.Timeout | undefined;

  const lost = (e: NetmonError): void => {
    socket = undefined;
    if (closed) return;
    const again = o.reconnect ?? true;
    o.onDisconnect?.(e, again ? delay : null);
    if (!again) return;
    retry = setTimeout(open, delay);
    delay = Math.min(max, delay * 2);
  };

  function open(): void {
    let failed = false;
    const s = createConnection({ path });
    socket = s;
    const fail = (e: NetmonError): void => {
      if (failed) return;
      failed = true;
      s.destroy();
      lost(e);
    };
    s.on('error', (e: NodeJS.ErrnoException) => fail(connectError(path, e)));
    s.on('close', () => fail(new NetmonError('E_CONTROL_CONNECT', `${path}: the daemon closed the connection`)));
    s.on('connect', () => {
      s.write(JSON.stringify({ id: 1, cmd: 'subscribe', args: { interval: o.intervalMs ?? 1000 } }) + '\n');
    });
    let first = true;
    onLines(s, (line) => {
      const r = parseReply(line);
      if (!r.ok) {
        // a refused subscription (bad interval...) will not get better by retrying
        closed = true;
        o.onDisconnect?.(replyError(r.error), null);
        s.destroy();
        return;
      }
      if (first) {
        first = false;
        delay = min;
        o.onConnect?.();
      }
      const m = r.data as SubscriptionMessage;
      if (m.type === 'snapshot') o.onSnapshot?.(m.snapshot);
      else if (m.type === 'event') o.onEvent?.(m.event);
    });
  }

  open();
  return {
    close: () => {
      closed = true;
      if (retry) clearTimeout(retry);
      socket?.destroy();
    },
  };
}
