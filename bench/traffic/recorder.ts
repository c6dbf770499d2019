// Counts what a traffic run saw: latencies (an HDR histogram from perf_hooks, plus
// fixed buckets for display), errors by kind, HTTP status codes, and which backend
// answered (from the x-backend header or a "hello from <name>" body).
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/** upper bounds in ms of the display histogram; the last bucket is everything above */
const BUCKETS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000] as const;

interface LatencySummary {
  min: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface TrafficSummary {
  mode: 'http' | 'tcp';
  target: string;
  /** requests attempted and finished one way or the other (ok + errors) */
  requests: number;
  ok: number;
  errors: number;
  /** refused, reset, timeout, closed (the server closed before a full reply), http_<status>, other */
  errorsByKind: Record<string, number>;
  statusCodes: Record<string, number>;
  durationMs: number;
  /** finished requests per second */
  rate: number;
  /** milliseconds, of successful requests */
  latencyMs: LatencySummary;
  /** count per display bucket: `le` in ms (Infinity for the last) */
  histogram: { le: number; count: number }[];
  bytesRead: number;
  /** answers per backend name, when the answers name their backend */
  distribution: Record<string, number>;
}

export class Recorder {
  ok = 0;
  errors = 0;
  bytesRead = 0;
  /** performance.now() of the last finished request, 0 before the first */
  lastAt = 0;
  readonly errorsByKind: Record<string, number> = {};
  readonly statusCodes: Record<string, number> = {};
  readonly distribution: Record<string, number> = {};
  private readonly hist: RecordableHistogram = createHistogram();
  private readonly buckets = new Array<number>(BUCKETS_MS.length + 1).fill(0);

  get done(): number {
    return this.ok + this.errors;
  }

  success(ms: number): void {
    this.ok++;
    this.lastAt = performance.now();
    this.latency(ms);
  }

  error(kind: string): void {
    this.errors++;
    this.lastAt = performance.now();
    this.errorsByKind[kind] = (this.errorsByKind[kind] ?? 0) + 1;
  }

  status(code: number): void {
    const k = String(code);
    this.statusCodes[k] = (this.statusCodes[k] ?? 0) + 1;
  }

  backend(name: string): void {
    this.distribution[name] = (this.distribution[name] ?? 0) + 1;
  }

  private latency(ms: number): void {
    // the histogram takes positive integers: microseconds
    this.hist.record(Math.max(1, Math.round(ms * 1000)));
    let i = 0;
    while (i < BUCKETS_MS.length && ms > BUCKETS_MS[i]!) i++;
    this.buckets[i]!++;
  }

  summary(mode: 'http' | 'tcp', target: string, durationMs: number): TrafficSummary {
    const h = this.hist;
    const empty = h.count === 0;
    const us = (v: number): number => (empty ? 0 : Math.round(v) / 1000);
    return {
      mode,
      target,
      requests: this.done,
      ok: this.ok,
      errors: this.errors,
      errorsByKind: { ...this.errorsByKind },
      statusCodes: { ...this.statusCodes },
      durationMs: Math.round(durationMs),
      rate: durationMs > 0 ? Math.round((this.done / durationMs) * 1000 * 10) / 10 : 0,
      latencyMs: {
        min: us(h.min),
        mean: us(h.mean),
        p50: us(h.percentile(50)),
        p95: us(h.percentile(95)),
        p99: us(h.percentile(99)),
        max: us(h.max),
      },
      histogram: this.buckets.map((count, i) => ({ le: BUCKETS_MS[i] ?? Infinity, count })),
      bytesRead: this.bytesRead,
      distribution: { ...this.distribution },
    };
  }
}

/** Error kind from a socket error or autocannon's timeout. */
export function errorKind(err: { code?: string; message?: string }): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'reset';
    case 'ETIMEDOUT':
      return 'timeout';
    default:
      if (err.message === 'request timed out') return 'timeout';
      return err.code ? `other_${err.code}` : 'other';
  }
}

const HEADER = /\r\nx-backend: *([^\r\n]+)/i;
const HELLO = /hello from ([\w.-]+)/;

/** The backend's name from a raw reply, if the reply carries one. */
export function backendFromReply(text: string): string | undefined {
  return HEADER.exec(text)?.[1] ?? HELLO.exec(text)?.[1];
}
