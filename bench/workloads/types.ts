// One workload: drives load through a running proxy for a bounded time and
// returns named measurements (units in the names: rps, p99_ms, cpu_s_per_10k...).
import type { RunningProxy } from '../proxies/types.js';

export interface WorkloadContext {
  durationS: number;
  /** connections held open by the idle workload */
  idleConnections: number;
  /** the HTTP backends' ports, for checks that go around the proxy */
  httpBackends: readonly number[];
  log(line: string): void;
}

export type Measurement = Record<string, number>;

export interface Workload {
  name: string;
  /** a line for the results table */
  title: string;
  /** why it cannot run here (a missing tool), or undefined */
  unavailable(): Promise<string | undefined>;
  /** measured on a freshly started proxy (memory figures would carry what earlier runs left) */
  freshProxy?: boolean;
  run(proxy: RunningProxy, ctx: WorkloadContext): Promise<Measurement>;
}
