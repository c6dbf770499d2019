// The health module's public surface for main.ts.
export { HealthChecker, DEFAULT_MAX_EJECTED_SHARE, INTERVAL_JITTER, sameCheck } from './checker.js';
export type {
  BackendHealthStatus,
  HealthBackend,
  HealthCheckerOptions,
  HealthCounters,
  HealthTransition,
  PassiveOutcome,
} from './checker.js';
export { runProbe } from './probe.js';
export { probeTcp } from './probe-tcp.js';
export { probeSendExpect, SEND_EXPECT_MAX_READ } from './probe-send-expect.js';
export { probeHttp, HTTP_MAX_BODY, hostHeader } from './probe-http.js';
export { parseAgent } from './agent.js';
export type { AgentData, Probe, ProbeResult, ProbeTarget } from './probe-types.js';
export { SlowStart, rampWeight, RAMP_FLOOR, DEFAULT_SLOW_START_TICK_MS } from './slow-start.js';
export { passiveEjectionAllowed, DEFAULT_PASSIVE_COOLDOWN_MS } from './passive.js';
export { riseFall } from './rise-fall.js';
export type { SetTimer, ClearTimer, TimerHandle } from './timers.js';
