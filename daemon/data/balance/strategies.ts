// The fixed strategies, by config name: what `adaptive` can delegate to. Kept apart
// from index.ts so adaptive.ts can import it without an import cycle.
import type { AlgorithmName } from '../../config/schema.js';
import type { AlgorithmInfo } from './interface.js';
import { roundRobin } from './round-robin.js';
import { weightedRoundRobin } from './weighted-round-robin.js';
import { leastConnections } from './least-connections.js';
import { leastResponseTime } from './least-response-time.js';
import { ipHash } from './ip-hash.js';
import { randomTwo } from './random-two.js';

export type StrategyName = Exclude<AlgorithmName, 'adaptive'>;

export const STRATEGIES: Readonly<Record<StrategyName, AlgorithmInfo>> = Object.freeze({
  round_robin: roundRobin,
  weighted_round_robin: weightedRoundRobin,
  least_connections: leastConnections,
  least_response_time: leastResponseTime,
  ip_hash: ipHash,
  random_two: randomTwo,
});
