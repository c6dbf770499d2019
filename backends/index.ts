// Simulated backends: the programmatic API used by tests, the demo and the benchmarks.
export {
  startBackend,
  startBackends,
  BACKEND_MODES,
  type BackendMode,
  type SimBackend,
  type SimEvent,
  type SimStats,
  type StartBackendOptions,
  type StartBackendsOptions,
} from './sim-backend.js';
export { FAULTS, type Behaviour, type BehaviourPatch, type SimFault, type ErrorSpread } from './behaviour.js';
export { parseDuration, formatDuration } from './duration.js';
export { parseLatency, formatLatency, type LatencySpec } from './latency.js';
