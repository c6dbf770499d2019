// The traffic generator (`netmon traffic`): HTTP via autocannon or raw TCP connections.
export { runTraffic } from './run-traffic.js';
export { formatSummary } from './format.js';
