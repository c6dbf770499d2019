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
