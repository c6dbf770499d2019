// One pool's picker in a worker: keeps a balancer for the pool's eligible
// primaries and one for its eligible backups, rebuilt when the table says the
// pool changed (version bump on any state, weight or algorithm change).
// Backups serve when no primary is eligible, and when every eligible primary is
// one the connection already tried: a retry after all primaries refused goes to
// a backup rather than failing (HAProxy's `option redispatch` with backups: a
// backup takes over what the primaries cannot serve). `acquire` also reserves
// the backend's connection slot (max_connections), moving on to another member
// when one is full; a full primary is waited for (the pool's queue), not skipped
// for a backup.
import type { Table } from '../../state/table.js';
import type { AlgorithmName } from '../../config/schema.js';
import { avoided, type Balancer, type Member, type PickContext } from './interface.js';
import { ALGORITHMS } from '../../config/schema.js';
import { ALGORITHM_INFO } from './index.js';
import { adaptiveStrategy } from './adaptive.js';
import { LatencyEstimates } from './latency-estimates.js';

export interface PoolMember {
  slot: number;
  /** stable "pool/name" key */
  key: string;
  backup: boolean;
}

export interface PoolPickerOptions {
  table: Table;
  /** pool slot in the table */
  pool: number;
  /** the pool's backends in config order */
  members: readonly PoolMember[];
}

/** Why the last acquire returned -1: every candidate was at max_connections, or none was eligible. */
export type PickFailure = 'full' | 'no_backend';
export type Tier = 'primary' | 'backup' | 'none';

/** Balancer picks tried after a full backend before falling back to a plain scan. */
const MAX_REPICKS = 8;
const FALLBACK_ALGORITHM: AlgorithmName = 'round_robin';
const NO_BALANCER: Balancer = { pick: () => -1 };

/** The eligible members of one tier and the balancer over them. */
class TierPicks {
  balancer: Balancer = NO_BALANCER;
  slots: Int32Array = new Int32Array(0);
  /** where the exact scan after a full backend starts, advanced per scan */
  scanRotor = 0;

  set(balancer: Balancer, members: readonly Member[]): void {
    this.balancer = balancer;
    this.slots = Int32Array.from(members, (m) => m.slot);
  }
}

export class PoolPicker {
  readonly pool: number;
  private readonly table: Table;
  private readonly members: readonly PoolMember[];
  /** every member's response-time estimate, for least_response_time; lives as long as the picker */
  private readonly latency: LatencyEstimates;
  private version = -1;
  private algorithmId = -1;
  private readonly primaries = new TierPicks();
  private readonly backups = new TierPicks();
  /** reused for repicks after a full backend: ctx.avoid plus the full ones */
  private readonly avoidBuf: number[] = [];
  private readonly inner: PickContext;
  /** Why the last acquire returned -1; null after a success. */
  lastFailure: PickFailure | null = null;

  constructor(opts: PoolPickerOptions) {
    this.table = opts.table;
    this.pool = opts.pool;
    this.members = opts.members.map((m) => ({ ...m }));
    this.latency = new LatencyEstimates(
      opts.table,
      this.members.map((m) => m.slot),
    );
    // a repick after a full backend: the connection took its turn with its first pick
    this.inner = { clientAddress: '', avoid: this.avoidBuf, now: 0, random: Math.random, retry: true };
  }

  /** The configured algorithm as last seen in the table. */
  get algorithm(): AlgorithmName {
    this.refresh();
    return ALGORITHMS[this.algorithmId] ?? FALLBACK_ALGORITHM;
  }

  /** The strategy picks use: differs from `algorithm` only for adaptive. */
  get activeAlgorithm(): AlgorithmName {
    const a = this.algorithm;
    return a === 'adaptive' ? adaptiveStrategy(this.table.pools.adaptiveCurrent(this.pool)) : a;
  }

  /** Which tier a first pick comes from now. */
  get tier(): Tier {
    this.refresh();
    return this.primaries.slots.length > 0 ? 'primary' : this.backups.slots.length > 0 ? 'backup' : 'none';
  }

  /** A pick without reserving a connection slot (primaries, else backups as acquire); -1 when nothing can be picked. */
  pick(ctx: PickContext): number {
    this.refresh();
    const slot = this.primaries.balancer.pick(ctx);
    return slot >= 0 ? slot : this.backups.balancer.pick(ctx);
  }

  /**
   * Pick a backend and reserve one of its connection slots. Returns the backend
   * slot, or -1 with `lastFailure` saying whether everything was full (the caller
   * may queue) or nothing was eligible. The primaries are tried first; the
   * backups when no primary is eligible or every eligible one is in
   * `ctx.avoid`. The caller releases with table.backends.release().
   */
  acquire(worker: number, ctx: PickContext): number {
    this.refresh();
    const first = this.primaries.balancer.pick(ctx);
    // -1: no eligible primary, or each one was tried already: the backups take over
    if (first < 0) return this.acquireFrom(this.backups, worker, ctx, this.backups.balancer.pick(ctx));
    return this.acquireFrom(this.primaries, worker, ctx, first);
  }

  /** Rebuild the balancers if the pool changed since the last build. */
  refresh(): void {
    const table = this.table;
    const version = table.pools.version(this.pool);
    const algorithmId = table.pools.algorithm(this.pool);
    if (version !== this.version || algorithmId !== this.algorithmId) this.rebuild(version, algorithmId);
  }

  private acquireFrom(tier: TierPicks, worker: number, ctx: PickContext, first: number): number {
    if (first < 0) return this.fail('no_backend');
    if (this.table.backends.acquire(worker, first)) {
      this.lastFailure = null;
      return first;
    }
    return this.acquireSlow(tier, worker, ctx, first);
  }

  // A full backend is not an error: pick again avoiding it, a few times through the
  // algorithm (so its order still holds), then scan every member once so the answer
  // is exact without costing picks x avoid-list on a pool of thousands.
  private acquireSlow(tier: TierPicks, worker: number, ctx: PickContext, full: number): number {
    const table = this.table;
    const buf = this.avoidBuf;
    buf.length = 0;
    for (let i = 0; i < ctx.avoid.length; i++) buf.push(ctx.avoid[i]!);
    buf.push(full);
    const inner = this.inner;
    inner.clientAddress = ctx.clientAddress;
    inner.now = ctx.now;
    inner.random = ctx.random;
    const slots = tier.slots;
    const n = slots.length;
    const repicks = Math.min(n - 1, MAX_REPICKS);
    for (let k = 0; k < repicks; k++) {
      const slot = tier.balancer.pick(inner);
      if (slot < 0) break;
      if (table.backends.acquire(worker, slot)) return this.succeed(slot);
      buf.push(slot);
    }
    const start = tier.scanRotor++ % n;
    if (tier.scanRotor >= 0x40000000) tier.scanRotor = 0;
    for (let k = 0; k < n; k++) {
      const slot = slots[(start + k) % n]!;
      if (avoided(inner, slot)) continue;
      if (table.backends.acquire(worker, slot)) return this.succeed(slot);
    }
    buf.length = 0;
    return this.fail('full');
  }

  private succeed(slot: number): number {
    this.avoidBuf.length = 0;
    this.lastFailure = null;
    return slot;
  }

  private fail(why: PickFailure): number {
    this.lastFailure = why;
    return -1;
  }

  private rebuild(version: number, algorithmId: number): void {
    const table = this.table;
    const primaries: Member[] = [];
    const backups: Member[] = [];
    for (const m of this.members) {
      if (!table.backends.eligible(m.slot)) continue;
      const member: Member = { slot: m.slot, key: m.key, weight: Math.max(1, table.backends.effectiveWeight(m.slot)) };
      (m.backup ? backups : primaries).push(member);
    }
    const info = ALGORITHM_INFO[ALGORITHMS[algorithmId] ?? FALLBACK_ALGORITHM];
    const build = (tier: TierPicks, members: Member[]): void =>
      tier.set(
        members.length > 0 ? info.create({ members, table, pool: this.pool, latency: this.latency }) : NO_BALANCER,
        members,
      );
    build(this.primaries, primaries);
    build(this.backups, backups);
    this.version = version;
    this.algorithmId = algorithmId;
  }
}
