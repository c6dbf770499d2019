// What every proxy under test looks like to the bench: two listeners (HTTP
// backends, bulk backend) and one process tree whose CPU and memory are read.

export interface ProxyPlan {
  /** where the proxy listens for the HTTP workloads */
  httpPort: number;
  /** the HTTP backends it spreads them over */
  httpBackends: readonly number[];
  /** where it listens for the bulk workload */
  bulkPort: number;
  /** the one bulk backend (iperf3 or a sink/source) */
  bulkBackend: number;
  /** the largest number of connections it must hold (idle workload) */
  maxConnections: number;
  /** a directory for its config and log */
  dir: string;
}

export interface RunningProxy {
  name: string;
  /** the process whose tree is measured; undefined for the direct path */
  pid: number | undefined;
  httpPort: number;
  bulkPort: number;
  stop(): Promise<void>;
}

export interface ProxyKind {
  name: string;
  /** why it cannot run here, or undefined when it can */
  unavailable(): Promise<string | undefined>;
  start(plan: ProxyPlan): Promise<RunningProxy>;
}
