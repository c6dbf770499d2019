// One control-socket client: frames its bytes into lines (line-framer.ts),
// answers them one at a time in order when the scheduler gives it a turn
// (line-scheduler.ts), and protects the daemon from it: lines are capped,
// invalid UTF-8 and broken JSON get error replies, a client gets a short time
// to finish a request line and a longer one between requests, and a client that
// does not read its replies is dropped once its unsent output passes a bound
// instead of growing the daemon's memory. While it has lines queued or a
// command running its socket is paused, so its unread input stays in the kernel.
import type { Socket } from 'node:net';
import { log } from '../../log.js';
import { NetmonError, type ErrorCode, type ErrorPayload } from '../../errors.js';
import type { Command } from './commands.js';
import type { ControlContext } from './context.js';
import { LineFramer, LineQueue } from './line-framer.js';
import type { LineRunner, LineScheduler } from './line-scheduler.js';
import { isJsonLine, jsonError, jsonOk, textError, textOk, toPayload, type RequestId } from './protocol.js';
import { startSubscription } from './subscription.js';
import { decodeLine } from './decode.js';
import type { Args } from './args.js';

export interface ConnectionLimits {
  /** longest request line, bytes without its LF */
  maxLineBytes: number;
  /** ms a client has to send a complete line, from connecting or from the first byte of a line */
  lineTimeoutMs: number;
  /** ms a client that has been answered may stay silent before it is closed */
  idleTimeoutMs: number;
  /** bytes of unsent replies before a client that does not read is dropped (its next line waits from 1 MiB) */
  maxBufferedBytes: number;
}

export interface ConnectionHooks {
  snapshotJson(): string;
  scheduler: LineScheduler;
  /** the client waits for input: nothing queued, nothing running, no subscription (it may be evicted) */
  onIdle(c: ControlConnection): void;
  /** the client has work queued or running, or a subscription */
  onBusy(c: ControlConnection): void;
  /** the client was closed for a reason that is counted and warned of (it did not read, was too slow, was evicted) */
  onClosedFor(reason: ClosedReason): void;
  onClose(c: ControlConnection): void;
}

export type ClosedReason = 'slow_reader' | 'line_timeout' | 'idle_timeout' | 'line_too_long' | 'evicted';

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** how long a closing client may take to read its last reply before it is destroyed */
const LINGER_MS = 1000;
/**
 * unsent reply bytes at which a client's next line waits until its socket has
 * drained: a client that pipelines faster than it reads is slowed, not dropped
 */
const OUTPUT_HIGH_WATER = 1024 * 1024;

export class ControlConnection implements LineRunner {
  private readonly framer: LineFramer;
  private readonly lines = new LineQueue();
  /** when the line being waited for began (the connection, or its first byte); null: between requests */
  private lineStartedAt: number | null;
  private running = false;
  private inputEnded = false;
  private closed = false;
  private timer: NodeJS.Timeout | null = null;
  /** set while the next line waits for the replies to drain; fires when the client read nothing for too long */
  private drainTimer: NodeJS.Timeout | null = null;
  private stopSubscription: (() => void) | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly ctx: ControlContext,
    private readonly limits: ConnectionLimits,
    private readonly hooks: ConnectionHooks,
  ) {
    this.framer = new LineFramer(limits.maxLineBytes);
    this.lineStartedAt = Date.now();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (e) => log.debug('control client error', { err: e }));
    socket.on('close', () => this.onSocketClose());
    this.waitForInput();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Closes this client, telling it why, to make room for a new one. */
  evict(maxClients: number): void {
    this.hooks.onClosedFor('evicted');
    this.closeWith('E_TOO_MANY_CLIENTS', `the control socket has ${maxClients} clients; closing the longest idle one`);
  }

  /** LineRunner: answers the next queued line. */
  step(): boolean {
    if (this.closed || this.stopSubscription || this.running || this.drainTimer !== null) return false;
    if (this.socket.writableLength >= OUTPUT_HIGH_WATER) {
      this.waitForDrain();
      return false;
    }
    const raw = this.lines.shift();
    if (raw === undefined) {
      this.drained();
      return false;
    }
    const pending = this.handle(raw);
    if (pending) {
      this.running = true;
      void pending.finally(() => {
        this.running = false;
        this.next();
      });
      return false;
    }
    if (this.lines.length > 0 && !this.closed && !this.stopSubscription) return true;
    this.drained();
    return false;
  }

  // Its replies are not read as fast as it asks: answer again once they are, and
  // drop the client (slow_reader) if it reads nothing for the idle timeout.
  private waitForDrain(): void {
    this.drainTimer = setTimeout(() => {
      if (this.closed) return;
      log.debug('control client does not read its replies, dropping it', {
        bufferedBytes: this.socket.writableLength,
        idleTimeoutMs: this.limits.idleTimeoutMs,
      });
      this.hooks.onClosedFor('slow_reader');
      this.closed = true;
      this.socket.destroy();
    }, this.limits.idleTimeoutMs);
    this.drainTimer.unref();
    this.socket.once('drain', () => {
      if (this.drainTimer !== null) clearTimeout(this.drainTimer);
      this.drainTimer = null;
      this.next();
    });
  }

  private next(): void {
    if (this.closed || this.stopSubscription) return;
    if (this.lines.length > 0) this.hooks.scheduler.schedule(this);
    else this.drained();
  }

  private onData(chunk: Buffer): void {
    // a subscriber's input is not read as commands; reading it still detects the client leaving
    if (this.closed || this.stopSubscription) return;
    const before = this.lines.length;
    const tooLong = this.framer.push(chunk, this.lines);
    if (tooLong) return this.lineTooLong(tooLong.head);
    if (this.lines.length > before) this.lineStartedAt = null;
    if (this.framer.pendingBytes > 0) this.lineStartedAt ??= Date.now();
    if (this.lines.length > 0) this.startWork();
    else if (!this.running) this.waitForInput();
  }

  private onEnd(): void {
    this.inputEnded = true;
    if (this.closed || this.stopSubscription) return;
    this.framer.end(this.lines);
    if (this.lines.length > 0) this.startWork();
    else if (!this.running) this.drained();
  }

  private startWork(): void {
    this.clearTimer();
    this.socket.pause();
    this.hooks.onBusy(this);
    if (!this.running) this.hooks.scheduler.schedule(this);
  }

  /** Nothing queued and nothing running. */
  private drained(): void {
    if (this.closed || this.stopSubscription) return;
    if (this.inputEnded) {
      this.socket.end();
      return;
    }
    this.waitForInput();
  }

  private waitForInput(): void {
    this.hooks.onIdle(this);
    this.socket.resume();
    this.clearTimer();
    if (this.lineStartedAt !== null) {
      const left = Math.max(0, this.limits.lineTimeoutMs - (Date.now() - this.lineStartedAt));
      this.timer = setTimeout(() => this.onLineTimeout(), left);
    } else {
      this.timer = setTimeout(() => this.onIdleTimeout(), this.limits.idleTimeoutMs);
    }
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private onIdleTimeout(): void {
    log.debug('control client idle, closing', { timeoutMs: this.limits.idleTimeoutMs });
    this.hooks.onClosedFor('idle_timeout');
    this.socket.destroy();
  }

  private onLineTimeout(): void {
    log.debug('control client did not finish a request line in time, closing', {
      timeoutMs: this.limits.lineTimeoutMs,
      pendingBytes: this.framer.pendingBytes,
    });
    this.hooks.onClosedFor('line_timeout');
    this.closeWith('E_LINE_TIMEOUT', `no complete request line within ${this.limits.lineTimeoutMs} ms; closing`);
  }

  private onSocketClose(): void {
    this.closed = true;
    this.clearTimer();
    if (this.drainTimer !== null) clearTimeout(this.drainTimer);
    this.drainTimer = null;
    this.lines.clear();
    this.hooks.scheduler.cancel(this);
    this.stopSubscription?.();
    this.hooks.onClose(this);
  }

  private lineTooLong(head: Buffer): void {
    log.debug('control client sent an over-long line, closing', { maxLineBytes: this.limits.maxLineBytes });
    this.hooks.onClosedFor('line_too_long');
    const json = isJsonLine(head.toString('latin1'));
    this.closeWith(
      'E_LINE_TOO_LONG',
      `request line over ${this.limits.maxLineBytes} bytes; closing the connection`,
      json,
    );
  }

  /** Sends one error reply, ends the connection and ignores what the client sends after. */
  private closeWith(code: ErrorCode, message: string, json = false): void {
    if (this.closed) return;
    const err: ErrorPayload = { code, message };
    this.lines.clear();
    this.clearTimer();
    this.write(json ? jsonError(null, err) : textError(err));
    this.closed = true;
    this.hooks.onBusy(this);
    this.socket.end();
    // a client that keeps sending would keep the half-closed socket alive
    this.socket.pause();
    setTimeout(() => this.socket.destroy(), LINGER_MS).unref();
  }

  /** Answers one line: synchronously, or with a promise for a command that answers later (reload). */
  private handle(bytes: Buffer): Promise<void> | undefined {
    let line: string;
    try {
      line = utf8.decode(bytes);
    } catch {
      const err: ErrorPayload = { code: 'E_BAD_REQUEST', message: 'the request line is not valid UTF-8' };
      this.write(isJsonLine(bytes.subarray(0, 64).toString('latin1')) ? jsonError(null, err) : textError(err));
      return undefined;
    }
    if (line.trim() === '') return undefined;
    const decoded = decodeLine(line);
    const { json, id } = decoded;
    if (!decoded.ok) {
      this.write(json ? jsonError(id, toPayload(decoded.error)) : textError(toPayload(decoded.error)));
      return undefined;
    }
    const { command, args } = decoded.resolved;
    if (command.kind === 'quit') {
      this.closed = true;
      this.hooks.onBusy(this);
      this.socket.end();
      return undefined;
    }
    if (command.kind === 'subscribe') {
      this.subscribe(id, args);
      return undefined;
    }
    try {
      const data = command.run(this.ctx, args);
      if (data instanceof Promise) {
        return data
          .then((d: unknown) => this.answered(command, args, json, id, d))
          .catch((e: unknown) => this.failed(command, args, json, id, e));
      }
      this.answered(command, args, json, id, data);
    } catch (e) {
      this.failed(command, args, json, id, e);
    }
    return undefined;
  }

  private answered(command: Command, args: Args, json: boolean, id: RequestId, data: unknown): void {
    if (command.mutates) this.record(command, args, true, describe(data));
    this.write(json ? jsonOk(id, data) : textOk(command.text(data, args)));
  }

  private failed(command: Command, args: Args, json: boolean, id: RequestId, e: unknown): void {
    const payload = toPayload(e);
    if (!(e instanceof NetmonError)) log.error('control command failed unexpectedly', { cmd: command.id, err: e });
    if (command.mutates) this.record(command, args, false, `${payload.code}: ${payload.message}`);
    this.write(json ? jsonError(id, payload) : textError(payload));
  }

  private subscribe(id: RequestId, args: Args): void {
    this.clearTimer();
    this.hooks.onBusy(this);
    // keep reading so that the client leaving is noticed; its lines are ignored
    this.socket.resume();
    this.stopSubscription = startSubscription({
      ctx: this.ctx,
      id,
      intervalMs: args.interval as number,
      snapshotJson: () => this.hooks.snapshotJson(),
      write: (line) => this.write(line),
      onError: (e) => log.error('control subscription snapshot failed', { err: e }),
    });
  }

  private record(command: Command, args: Args, ok: boolean, message: string): void {
    const text = [command.name, ...Object.values(args).filter((v) => v !== undefined)].join(' ');
    log.info('control command', { command: text, ok, message });
    try {
      this.ctx.recordAction?.({ command: text, ok, message });
    } catch (e) {
      log.error('recording a control action failed', { err: e });
    }
  }

  /** Queues output unless the client has stopped reading; then drops it. */
  private write(text: string): boolean {
    if (this.socket.destroyed) return false;
    if (this.socket.writableLength + Buffer.byteLength(text) > this.limits.maxBufferedBytes) {
      log.debug('control client does not read its replies, dropping it', {
        bufferedBytes: this.socket.writableLength,
        maxBufferedBytes: this.limits.maxBufferedBytes,
      });
      this.hooks.onClosedFor('slow_reader');
      this.closed = true;
      this.socket.destroy();
      return false;
    }
    this.socket.write(text);
    return true;
  }
}

function describe(data: unknown): string {
  if (typeof data === 'object' && data !== null && 'message' in data && typeof data.message === 'string') {
    return data.message;
  }
  return '';
}
