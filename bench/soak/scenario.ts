// What a soak scenario returns and the helpers the scenarios share: the steady
// load they run the fault under, and the split of lost connections into those
// the fault explains and those it does not (which must be none).
import type { Lab } from './lab.js';
import { Load, type LoadResult, type LoadSpec } from './load.js';

export interface SoakOptions {
  quick: boolean;
}

/** A scenario's own findings; the runner adds the before/after figures. */
export interface Findings {
  short: LoadResult | null;
  streams: LoadResult | null;
  /** lost connections the fault does not explain: must be 0 */
  unexpected: number;
  /** what the fault may cost, in words ("streams on the killed backend") */
  expected: string;
  notes: string[];
  /** the daemon is gone on purpose (the last scenario) */
  daemonGone?: boolean;
}

export interface Scenario {
  name: string;
  run(lab: Lab, o: SoakOptions): Promise<Findings>;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const BASE: Omit<LoadSpec, 'mode' | 'port' | 'concurrency'> = {
  count: 0,
  payload: 256,
  intervalMs: 100,
  sources: 0,
  timeoutMs: 5000,
};

/** `concurrency` short connections in a loop until stopped (or `count`). */
export function shorts(lab: Lab, concurrency: number, over: Partial<LoadSpec> = {}): Load {
  return new Load({ ...BASE, mode: 'short', port: lab.port, concurrency, ...over });
}

/** `n` held streams echoing a line every 100 ms; resolves once they are open. */
export async function streams(lab: Lab, n: number, over: Partial<LoadSpec> = {}): Promise<Load> {
  const l = new Load({ ...BASE, mode: 'stream', port: lab.port, concurrency: n, ...over });
  await l.ready;
  return l;
}

/** Lost connections that started more than `graceMs` after `at` (epoch ms): the fault cannot explain them. */
export function lostAfter(r: LoadResult, at: number, graceMs: number): number {
  return r.lostAt.filter((t) => t > at + graceMs).length;
}

export function lost(r: LoadResult | null): number {
  return r === null ? 0 : r.failed + r.truncated;
}

/** "ECONNRESET 12, STALLED 3" */
export function codes(r: LoadResult): string {
  const parts = Object.entries(r.codes).map(([k, v]) => `${k} ${v}`);
  if (r.truncated > 0) parts.push(`clean FIN too early ${r.truncated}`);
  return parts.join(', ') || 'none';
}

/** Steady load (held streams and short connections) for `ms`, no fault: the reference. */
export const baseline: Scenario = {
  name: 'steady load, no fault',
  async run(lab, o) {
    const held = await streams(lab, 20);
    const load = shorts(lab, 16);
    await sleep(o.quick ? 3000 : 10_000);
    const short = await load.stop();
    const st = await held.stop();
    return { short, streams: st, unexpected: lost(short) + lost(st), expected: 'none', notes: [] };
  },
};
