// Adaptive, worker side: delegates every pick to the strategy the main thread's
// controller (daemon/control/adaptive/controller.ts) chose for the pool, read from the pool slot.
// Until the first decision the pool uses least_connections: it needs no history,
// weights count, and it copes with slow or uneven backends from the first second.
import { ALGORITHMS } from '../../config/schema.js';
import type { AlgorithmInfo, Balancer, BalancerInput, PickContext } from './interface.js';
import { STRATEGIES, type StrategyName } from './strategies.js';

export const ADAPTIVE_DEFAULT: StrategyName = 'least_connections';

/** The strategy an adaptiveCurrent value stands for: the default for -1 or anything not a fixed strategy. */
export function adaptiveStrategy(current: number): StrategyName {
  const name = ALGORITHMS[current];
  return name !== undefined && name !== 'adaptive' ? name : ADAPTIVE_DEFAULT;
}

class Adaptive implements Balancer {
  private readonly input: BalancerInput;
  private current: number;
  private delegate: Balancer;

  constructor(input: BalancerInput) {
    this.input = input;
    this.current = input.table.pools.adaptiveCurrent(input.pool);
    this.delegate = STRATEGIES[adaptiveStrategy(this.current)].create(input);
  }

  /** The strategy picks are delegated to now. */
  get strategy(): StrategyName {
    return adaptiveStrategy(this.current);
  }

  pick(ctx: PickContext): number {
    const now = this.input.table.pools.adaptiveCurrent(this.input.pool);
    if (now !== this.current) {
      this.current = now;
      this.delegate = STRATEGIES[adaptiveStrategy(now)].create(this.input);
    }
    return this.delegate.pick(ctx);
  }
}

export const adaptive: AlgorithmInfo = {
  name: 'adaptive',
  // it may delegate to ip_hash only if told to; the controller never chooses it
  needsClientAddress: false,
  weighted: true,
  create: (input) => new Adaptive(input),
};
