// The pool the queue and reservation tests use: pool slot 0, "web", with one
// backend (slot 0) whose max_connections the test sets, over a real state table.
import { OpState } from '../../daemon/state/names.js';
import type { Table } from '../../daemon/state/table.js';
import type { PoolPlan } from '../../daemon/data/plan.js';

/** Pool "web"'s plan: one member, no retries, `queueSize` places waiting at most `queueTimeout` ms. */
export function oneBackendPlan(queueSize: number, queueTimeout = 1000): PoolPlan {
  return {
    slot: 0,
    name: 'web',
    retries: 0,
    retryConnect: true,
    replayBytes: 0,
    connectTimeout: 1000,
    idleTimeout: 1000,
    firstByteTimeout: 0,
    queueSize,
    queueTimeout,
    passiveFailures: 0,
    sendProxy: 'off',
    members: [{ slot: 0, key: 'web/b0', host: '127.0.0.1', port: 1, backup: false }],
  };
}

/** Pool slot 0 and its one backend, up, at `maxConnections` (0: unlimited), in `table`. */
export function initOneBackendPool(table: Table, maxConnections: number): void {
  table.pools.init(0, 0);
  table.backends.init(0, { pool: 0, weight: 1, maxConnections, backup: false, generation: 1, op: OpState.Up }, 0);
}
