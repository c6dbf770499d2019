// Whether a reload changed how a backend is probed: an unchanged check keeps its
// timer and rise/fall count, a changed one starts over.
import type { HealthCheck } from '../../config/schema.js';

/** Whether two checks probe the same way (RegExp compared by source and flags). */
export function sameCheck(a: HealthCheck, b: HealthCheck): boolean {
  if (a.type !== b.type) return false;
  if (a.type === 'none' || b.type === 'none') return true;
  if (a.interval !== b.interval || a.timeout !== b.timeout || a.rise !== b.rise || a.fall !== b.fall) return false;
  if (a.type === 'send_expect' && b.type === 'send_expect') return a.send === b.send && sameExpect(a.expect, b.expect);
  if (a.type === 'http' && b.type === 'http') {
    return a.path === b.path && a.expectStatus === b.expectStatus && a.host === b.host;
  }
  return true;
}

function sameExpect(a: string | RegExp, b: string | RegExp): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return a.source === b.source && a.flags === b.flags;
}
