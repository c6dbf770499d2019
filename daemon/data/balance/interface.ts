// One interface for every balancing algorithm (Pingora style): a balancer is built
// from a pool's view of the table and answers picks. Algorithms know nothing of
// health checks: the caller hands them only eligible backends.
import type { Table } from '../../state/table.js';
import type { LatencyEstimates } from './latency-estimates.js';

/** One eligible backend as the balancer sees it. */
export interface Member {
  /** backend slot in the state table */
  slot: number;
  /** effective weight (slow start applied), >= 1 */
  weight: number;
  /** stable "pool/name" key: hashing uses it so every instance maps alike */
  key: string;
}

export interface PickContext {
  /** client IP as text (after PROXY protocol, if any) */
  clientAddress: string;
  /** slots already tried by this connection: a retry must skip them */
  avoid: readonly number[];
  /**
   * The connection took its turn already (its first pick, or a pick that found
   * its backend full): this pick must leave the algorithm's rotation and other
   * state as it was, so the split of new connections stays the algorithm's
   * (a retry after a failure, a repick after a full backend, a pick from the
   * pool's queue after a turn taken). Reading shared state is fine.
   */
  retry: boolean;
  /** ms, monotonic or wall: only differences matter */
  now: number;
  /** [0,1) */
  random: () => number;
}

export interface Balancer {
  /** a member's slot, or -1 when none can be picked */
  pick(ctx: PickContext): number;
}

export interface BalancerInput {
  /** eligible members of one tier (primaries, or backups when no primary is eligible) */
  members: readonly Member[];
  table: Table;
  /** pool slot: where shared cursors and adaptive state live */
  pool: number;
  /**
   * The pool's response-time estimates, kept across rebuilds by the pool's picker
   * so a weight or state change does not forget them; a balancer that needs them
   * makes its own when absent (or when it does not track every member).
   */
  latency?: LatencyEstimates;
}

export interface AlgorithmInfo {
  name: string;
  /** the balancer uses the client address (the config loader can warn if PROXY protocol is absent, etc.) */
  needsClientAddress: boolean;
  /** weights change the outcome */
  weighted: boolean;
  create(input: BalancerInput): Balancer;
}

export function avoided(ctx: PickContext, slot: number): boolean {
  const a = ctx.avoid;
  for (let i = 0; i < a.length; i++) if (a[i] === slot) return true;
  return false;
}
