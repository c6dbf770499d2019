// A worker thread for the shared source table race test: attaches to the
// table's buffer, waits for the start signal, and admits the same list of new
// sources as every other thread, as fast as it can.
import { parentPort, workerData } from 'node:worker_threads';
import { Table } from '../../daemon/state/table.js';
import type { TableCapacity } from '../../daemon/state/layout.js';
import { SourceLimiter } from '../../daemon/data/edge/source-limits.js';
import { parseIp, type IpAddress } from '../../daemon/net/ip.js';
import type { SourceLimits } from '../../daemon/config/schema.js';

export interface RaceInit {
  buffer: SharedArrayBuffer;
  cap: TableCapacity;
  worker: number;
  /** Int32Array(1) over it: 0 until the main thread says go */
  start: SharedArrayBuffer;
  limits: SourceLimits;
  quota: number;
  sources: number;
}

const init = workerData as RaceInit;
const table = new Table(init.cap, init.buffer);
const limiter = new SourceLimiter(
  init.limits,
  { table, worker: init.worker, listener: 0, now: () => 1000 },
  init.quota,
);
const addresses: (IpAddress | null)[] = [];
for (let i = 0; i < init.sources; i++) addresses.push(parseIp(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`));
const flag = new Int32Array(init.start);
Atomics.add(flag, 1, 1); // ready
Atomics.wait(flag, 0, 0);
let ok = 0;
let untracked = 0;
const held: number[] = [];
for (const a of addresses) {
  if (limiter.admit(a) !== 'ok') continue;
  ok++;
  if (limiter.entry < 0) untracked++;
  else held.push(limiter.entry);
}
parentPort!.postMessage({ ok, untracked, held });
