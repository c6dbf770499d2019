// Algorithm name -> implementation, and the numeric ids stored in the state
// table's pool slot (`table.poolAlgorithm`): an id is the name's index in the
// config schema's ALGORITHMS list, so the list's order is part of the table layout.
import { ALGORITHMS, type AlgorithmName } from '../../config/schema.js';
import type { AlgorithmInfo } from './interface.js';
import { STRATEGIES } from './strategies.js';
import { adaptive } from './adaptive.js';

export const ALGORITHM_INFO: Readonly<Record<AlgorithmName, AlgorithmInfo>> = Object.freeze({
  ...STRATEGIES,
  adaptive,
});

const BY_ID: readonly AlgorithmInfo[] = ALGORITHMS.map((name) => ALGORITHM_INFO[name]);

export function algorithmInfo(name: AlgorithmName): AlgorithmInfo {
  return ALGORITHM_INFO[name];
}

export function algorithmId(name: AlgorithmName): number {
  const id = ALGORITHMS.indexOf(name);
  if (id < 0) throw new RangeError(`unknown balancing algorithm ${JSON.stringify(name)}`);
  return id;
}

/** The name for an id read from the table; throws on an id no code ever writes. */
export function algorithmName(id: number): AlgorithmName {
  const name = ALGORITHMS[id];
  if (name === undefined) throw new RangeError(`unknown balancing algorithm id ${id}`);
  return name;
}

/** The implementation for an id read from the table, or undefined for an unknown id. */
export function algorithmById(id: number): AlgorithmInfo | undefined {
  return BY_ID[id];
}

export function isAlgorithmName(s: string): s is AlgorithmName {
  return (ALGORITHMS as readonly string[]).includes(s);
}

export type { AlgorithmInfo, Balancer, BalancerInput, Member, PickContext } from './interface.js';
export { ADAPTIVE_DEFAULT, adaptiveStrategy } from './adaptive.js';
export type { StrategyName } from './strategies.js';
