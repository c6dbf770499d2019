// The proxy's CPU seconds over one load run, from /proc (steadier than wall rates
// on a small shared machine: it does not depend on who else got the cores).
import { treeCpuSeconds } from '../measure/proc.js';

export async function withCpu<T>(
  pid: number | undefined,
  fn: () => Promise<T>,
): Promise<{ result: T; cpuSeconds: number }> {
  const before = pid !== undefined ? treeCpuSeconds(pid) : NaN;
  const result = await fn();
  const after = pid !== undefined ? treeCpuSeconds(pid) : NaN;
  return { result, cpuSeconds: after - before };
}

export function per10k(cpuSeconds: number, requests: number): number {
  return requests > 0 ? (cpuSeconds / requests) * 10_000 : NaN;
}
