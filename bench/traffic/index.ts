// The traffic generator (`netmon traffic`): HTTP via autocannon or raw TCP connections.
export { runTraffic } from './run-traffic.js';
export { formatSummary } from './format.js';
export { isLoopback, parseTarget, type TrafficOptions, type TrafficMode } from './options.js';
export type { TrafficSummary, LatencySummary } from './recorder.js';
