// What every probe takes and returns. A probe never throws and never leaves a
// socket or timer behind: it settles with ok=false and a human-readable detail.
import type { HealthCheck } from '../../config/schema.js';

export interface ProbeTarget {
  /** an IP literal: probes never resolve a name */
  host: string;
  port: number;
  /** the DNS name the address was discovered from: an HTTP check's default Host header; absent for literal addresses */
  name?: string;
}

/** Load figures a backend reports in its http health response (agent.ts; the README's `health.path` row). */
export interface AgentData {
  /** percent of CPU in use, 0..100 */
  cpu?: number;
  /** percent of memory in use, 0..100 */
  memory?: number;
  /** connections the backend is serving */
  connections?: number;
}

export interface ProbeResult {
  ok: boolean;
  /** wall time the probe took, ms */
  durationMs: number;
  /** what happened, for logs, `show backends` and the dashboard */
  detail: string;
  agent?: AgentData;
  /**
   * The probe could not be made for want of a local resource (EMFILE/ENFILE):
   * it says nothing of the backend, and rise/fall do not count it.
   */
  local?: true;
}

export type ActiveCheck = Exclude<HealthCheck, { type: 'none' }>;
export type TcpCheck = Extract<HealthCheck, { type: 'tcp' }>;
export type SendExpectCheck = Extract<HealthCheck, { type: 'send_expect' }>;
export type HttpCheck = Extract<HealthCheck, { type: 'http' }>;

/** `signal` aborts a probe early (the checker stopping); `check.timeout` bounds it. */
export type Probe<C extends ActiveCheck = ActiveCheck> = (
  target: ProbeTarget,
  check: C,
  signal?: AbortSignal,
) => Promise<ProbeResult>;
