// Before a worker restarts after a crash: the listeners whose every worker died
// are checked again (listen-addresses.ts, recheck), because nothing of netmon
// holds their port during the restart backoff and another program may have
// taken it; the kernel would let the restarted worker join that program's
// SO_REUSEPORT group and share its traffic. Such a listener is left out of the
// restarted worker's plan, logged (error), shown as not serving (`ctl show
// listeners`, netmon_listener_info{serving=""}) and named in the worker's
// "restarted" event; the next reload checks it again.
import { log } from '../log.js';
import type { Applier } from './applier.js';
import type { RestartPlan } from './supervisor.js';
import type { Topology } from './topology/topology.js';

/** The supervisor's restartPlan hook for a daemon's topology and applier. */
export function restartCheck(topology: Topology, applier: Applier): RestartPlan {
  return async (plan, open) => {
    const failures = await topology.recheckBinds(open);
    if (failures.length === 0) return { plan, refused: [] };
    applier.recordListening(failures);
    const names = new Set(failures.map((f) => f.listener));
    for (const f of failures) {
      log.error('a restarted worker does not reopen a listener: another program holds its address', {
        listener: f.listener,
        code: f.code,
        err: f.message,
      });
    }
    return {
      plan: { ...plan, listeners: plan.listeners.filter((l) => !names.has(l.name)) },
      refused: failures.map((f) => `listener ${f.listener}: ${f.message} [${f.code}]`),
    };
  };
}
