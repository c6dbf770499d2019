// Structured JSON lines on stdout (journald keeps them). Worker threads batch
// their lines and write them to fd 1 themselves: a worker's process.stdout
// forwards every write through the main thread, which with an access line per
// connection cost about 40% of the connection rate.
import { writeSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import type { LogLevel } from './config/schema.js';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

let threshold = RANK.info;
let out: (line: string) => void = isMainThread
  ? (line) => {
      process.stdout.write(line);
    }
  : batchedStdout();

/**
 * Lines are gathered for at most FLUSH_MS and written in pieces of at most
 * PIPE_BUF bytes, which the kernel writes whole: lines from several threads never
 * interleave mid-line on a pipe. A full non-blocking pipe falls back to the
 * forwarded process.stdout, so no line is dropped.
 */
function batchedStdout(): (line: string) => void {
  const FLUSH_MS = 20;
  const PIPE_BUF = 4096;
  let buf = '';
  let timer: NodeJS.Timeout | null = null;
  const flush = (): void => {
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
  return (line) => {
    buf += line;
    if (buf.length >= PIPE_BUF) flush();
    else if (!timer) timer = setTimeout(flush, FLUSH_MS).unref();
  };
}

export function setLogLevel(level: LogLevel): void {
  threshold = RANK[level];
}

/** Tests capture lines here. */
export function setLogSink(sink: (line: string) => void): void {
  out = sink;
}

export type LogFields = Record<string, unknown>;

function emit(level: LogLevel, msg: string, fields?: LogFields): void {
  if (RANK[level] < threshold) return;
  const rec: LogFields = { level, time: new Date().toISOString(), msg };
  if (fields) Object.assign(rec, fields);
  out(JSON.stringify(rec, replacer) + '\n');
}

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return code === undefined ? { message: value.message } : { code, message: value.message };
  }
  if (typeof value === 'bigint') return Number(value);
  return value;
}

export const log = {
  debug: (msg: string, fields?: LogFields) => emit('debug', msg, fields),
  info: (msg: string, fields?: LogFields) => emit('info', msg, fields),
  warn: (msg: string, fields?: LogFields) => emit('warn', msg, fields),
  error: (msg: string, fields?: LogFields) => emit('error', msg, fields),
  enabled: (level: LogLevel) => RANK[level] >= threshold,
};
