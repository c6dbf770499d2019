// Structured JSON lines on stdout (journald keeps them). Safe in worker threads:
// their stdout is forwarded through the main thread.
import type { LogLevel } from './config/schema.js';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

let threshold = RANK.info;
let out: (line: string) => void = (line) => {
  process.stdout.write(line);
};

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
