// Structured JSON lines on stdout (journald keeps them), written by pino:
// `{"level":"info","time":"2026-...Z",...fields,"msg":"..."}`. Worker threads
// batch their lines and write them to fd 1 themselves: a worker's process.stdout
// forwards every write through the main thread, which with an access line per
// connection cost about 40% of the connection rate.
import { writeSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { pino, stdTimeFunctions } from 'pino';
import type { LogLevel } from './config/schema.js';

const batch = isMainThread ? null : batchedStdout();
let out: (line: string) => void =
  batch?.write ??
  ((line) => {
    process.stdout.write(line);
  });

/**
 * Write now what a worker thread has gathered (nothing on the main thread,
 * whose lines are written at once). A worker calls it before it tells the main
 * thread it holds no connection: the main thread may end the thread right
 * after, and lines still gathered would be lost with it (terminate() runs no
 * 'exit' handler).
 */
export function flushLog(): void {
  batch?.flush();
}

/**
 * Lines are gathered for at most FLUSH_MS and written in pieces of at most
 * PIPE_BUF bytes, which the kernel writes whole: lines from several threads never
 * interleave mid-line on a pipe. A full non-blocking pipe falls back to the
 * forwarded process.stdout, so no line is dropped.
 */
function batchedStdout(): { write: (line: string) => void; flush: () => void } {
  const FLUSH_MS = 20;
  const PIPE_BUF = 4096;
  let buf = '';
  let timer: NodeJS.Timeout | null = null;
  const flush = (): void => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    while (buf.length > 0) {
      let end = buf.length;
      if (Buffer.byteLength(buf) > PIPE_BUF) {
        end = buf.lastIndexOf('\n', PIPE_BUF - 1) + 1 || buf.indexOf('\n') + 1 || buf.length;
      }
      const piece = buf.slice(0, end);
      buf = buf.slice(end);
      try {
        writeSync(1, piece);
      } catch {
        process.stdout.write(piece);
      }
    }
  };
  process.on('exit', flush);
  const write = (line: string): void => {
    buf += line;
    if (buf.length >= PIPE_BUF) flush();
    else if (!timer) timer = setTimeout(flush, FLUSH_MS).unref();
  };
  return { write, flush };
}

/** An error as a log field: its catalog or errno code and message (no stack: one line per event). */
function errorField(value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  const code = (value as { code?: unknown }).code;
  return code === undefined ? { message: value.message } : { code, message: value.message };
}

const logger = pino(
  {
    level: 'info',
    base: null,
    messageKey: 'msg',
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: errorField, error: errorField },
  },
  // one destination object whose write() follows `out`, so tests can swap the sink
  { write: (line: string) => out(line) },
);

/** Lines below `level` are not written (debug | info | warn | error). */
export function setLogLevel(level: LogLevel): void {
  logger.level = level;
}

/** Tests capture lines here: each call gets one JSON line ending in "\n". */
export function setLogSink(sink: (line: string) => void): void {
  out = sink;
}

export type LogFields = Record<string, unknown>;

export const log = {
  debug: (msg: string, fields?: LogFields): void => logger.debug(fields ?? {}, msg),
  info: (msg: string, fields?: LogFields): void => logger.info(fields ?? {}, msg),
  warn: (msg: string, fields?: LogFields): void => logger.warn(fields ?? {}, msg),
  error: (msg: string, fields?: LogFields): void => logger.error(fields ?? {}, msg),
  enabled: (level: LogLevel): boolean => logger.isLevelEnabled(level),
};
