// Simulated backends started in-process: the API the tests use (`netmon backends` runs cli-run.ts).
export { startBackend, startBackends, type SimBackend } from './sim-backend.js';
