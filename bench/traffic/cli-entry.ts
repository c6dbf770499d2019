// What `netmon traffic` loads lazily.
export { runTraffic, formatSummary } from './index.js';
export { parseDuration } from '../../backends/duration.js';
