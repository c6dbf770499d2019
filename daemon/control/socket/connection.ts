// One control-socket client: splits its bytes into lines, answers them one at a
// time in order, and protects the daemon from it: lines are capped, invalid
// UTF-8 and broken JSON get error replies, a silent client is closed after the
// idle timeout, and a client that does not read its replies is dropped once its
// unsent output passes a bound instead of growing the daemon's memory.
import type { Socket } from 'node:net';
import { log } from '../../log.js';
import { NetmonError, type ErrorPayload } from '../../errors.js';
import { resolveJson, resolveWords, type Command, type Resolved } from './commands.js';
import type { ControlContext } from './context.js';
import {
  BadRequest,
  isJsonLine,
  jsonError,
  jsonOk,
  parseRequest,
  textError,
  textOk,
  toPayload,
  type RequestId,
} from './protocol.js';
import { startSubscription } from './subscription.js';
import type { Args } from './args.js';

export interface ConnectionLimits {
  maxLineBytes: number;
  idleTimeoutMs: number;
  maxBufferedBytes: number;
}

export interface ConnectionHooks {
  snapshotJson(): string;
  /** the client was dropped for not reading its replies */
  onDropped(): void;
  onClose(): void;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class ControlConnection {
  private readonly partial: Buffer[] = [];
  private partialBytes = 0;
  private readonly lines: Buffer[] = [];
  private busy = false;
  private inputEnded = false;
  private closed = false;
  private stopSubscription: (() => void) | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly ctx: ControlContext,
    private readonly limits: ConnectionLimits,
    private readonly hooks: ConnectionHooks,
  ) {
    socket.setTimeout(limits.idleTimeoutMs);
    socket.on('timeout', () => this.onIdle());
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (e) => log.debug('control client error', { err: e }));
    socket.on('close', () => this.onSocketClose());
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onIdle(): void {
    log.debug('control client idle, closing', { timeoutMs: this.limits.idleTimeoutMs });
    this.socket.destroy();
  }

  private onSocketClose(): void {
    this.closed = true;
    this.stopSubscription?.();
    this.hooks.onClose();
  }

  private onData(chunk: Buffer): void {
    // a subscriber's input is not read as commands; reading it still detects the client leaving
    if (this.closed || this.stopSubscription) return;
    let start = 0;
    let nl: number;
    while ((nl = chunk.indexOf(0x0a, start)) !== -1) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.partialBytes + piece.length > this.limits.maxLineBytes) return this.lineTooLong(piece);
      this.lines.push(this.partialBytes === 0 ? piece : Buffer.concat([...this.partial, piece]));
      this.partial.length = 0;
      this.partialBytes = 0;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      if (this.partialBytes + rest.length > this.limits.maxLineBytes) return this.lineTooLong(rest);
      this.partial.push(rest);
      this.partialBytes += rest.length;
    }
    void this.pump();
  }

  private onEnd(): void {
    this.inputEnded = true;
    // a last line without its newline still counts (`printf 'show info' | socat ...`)
    if (this.partialBytes > 0) {
      this.lines.push(Buffer.concat(this.partial));
      this.partial.length = 0;
      this.partialBytes = 0;
    }
    void this.pump();
  }

  private lineTooLong(piece: Buffer): void {
    const first = this.partialBytes > 0 ? this.partial[0]! : piece;
    const json = isJsonLine(first.subarray(0, 64).toString('latin1'));
    const err: ErrorPayload = {
      code: 'E_LINE_TOO_LONG',
      message: `request line over ${this.limits.maxLineBytes} bytes; closing the connection`,
    };
    log.warn('control client sent an over-long line, closing', { maxLineBytes: this.limits.maxLineBytes });
    this.partial.length = 0;
    this.partialBytes = 0;
    this.lines.length = 0;
    this.write(json ? jsonError(null, err) : textError(err));
    this.closed = true;
    this.socket.end();
    // a client that keeps sending would keep the half-closed socket alive
    this.socket.pause();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /** Answers queued lines one at a time, in order, while the socket is paused. */
  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.socket.pause();
    this.socket.setTimeout(0);
    try {
      while (this.lines.length > 0 && !this.closed && !this.stopSubscription) {
        await this.handle(this.lines.shift()!);
      }
    } finally {
      this.busy = false;
    }
    if (this.closed || this.stopSubscription) return;
    if (this.inputEnded) {
      this.socket.end();
      return;
    }
    this.socket.setTimeout(this.limits.idleTimeoutMs);
    this.socket.resume();
  }

  private async handle(raw: Buffer): Promise<void> {
    const bytes = raw.length > 0 && raw[raw.length - 1] === 0x0d ? raw.subarray(0, raw.length - 1) : raw;
    let line: string;
    try {
      line = utf8.decode(bytes);
    } catch {
      const err: ErrorPayload = { code: 'E_BAD_REQUEST', message: 'the request line is not valid UTF-8' };
      this.write(isJsonLine(bytes.subarray(0, 64).toString('latin1')) ? jsonError(null, err) : textError(err));
      return;
    }
    if (line.trim() === '') return;
    const json = isJsonLine(line);
    let id: RequestId = null;
    let resolved: Resolved;
    try {
      const req = parseRequest(line);
      if (req.json) {
        id = req.id;
        resolved = resolveJson(req.cmd, req.args);
      } else {
        resolved = resolveWords(req.words);
      }
    } catch (e) {
      if (e instanceof BadRequest) id = e.id;
      this.write(json ? jsonError(id, toPayload(e)) : textError(toPayload(e)));
      return;
    }
    const { command, args } = resolved;
    if (command.kind === 'quit') {
      this.closed = true;
      this.socket.end();
      return;
    }
    if (command.kind === 'subscribe') return this.subscribe(id, args);
    try {
      const data = await command.run(this.ctx, args);
      if (command.mutates) this.record(command, args, true, describe(data));
      this.write(json ? jsonOk(id, data) : textOk(command.text(data, args)));
    } catch (e) {
      const payload = toPayload(e);
      if (!(e instanceof NetmonError)) log.error('control command failed unexpectedly', { cmd: command.id, err: e });
      if (command.mutates) this.record(command, args, false, `${payload.code}: ${payload.message}`);
      this.write(json ? jsonError(id, payload) : textError(payload));
    }
  }

  private subscribe(id: RequestId, args: Args): void {
    this.socket.setTimeout(0);
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
      log.warn('control client does not read its replies, dropping it', {
        bufferedBytes: this.socket.writableLength,
        maxBufferedBytes: this.limits.maxBufferedBytes,
      });
      this.hooks.onDropped();
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
