// What the request handlers (HTTP app, TCP modes) see of their backend: its
// current behaviour, its counters and a few decisions. The backend object owns the
// listener and the connections; handlers own one exchange each.
import type { Behaviour, BehaviourPatch } from './behaviour.js';
import type { SimCounters, SimMetrics } from './sim-metrics.js';

export interface BackendContext {
  readonly name: string;
  readonly counters: SimCounters;
  readonly metrics: SimMetrics;
  readonly random: () => number;
  /** bytes a source-mode connection writes before it ends; 0 = until the client goes away */
  readonly sourceBytes: number;
  behaviour(): Behaviour;
  /** true when this application request (or TCP connection) should fail, per errorRate/errorSpread */
  decideError(): boolean;
  /** time spent by a handler, for the per-backend CPU attribution */
  addBusy(ms: number): void;
  cpuPercent(): number;
  /** POST /_sim lands here */
  setBehaviour(patch: BehaviourPatch): Promise<Behaviour>;
  reset(): Promise<Behaviour>;
  describe(): Record<string, unknown>;
}

/** Busy-loops for `ms`: simulated request work that occupies the event loop like real work. */
export function burnCpu(ms: number): void {
  if (ms <= 0) return;
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x += Math.sqrt(x + 1);
  if (x < 0) throw new Error('unreachable');
}
