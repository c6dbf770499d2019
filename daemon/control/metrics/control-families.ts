// The control socket's clients: how many, and how many were closed or refused
// by its limits (a flood of silent, slow or over-long clients shows here).
import type { ClosedReason } from '../socket/connection.js';
import type { ControlServerStats } from '../socket/server.js';
import type { FamilyDef } from './family.js';

type Def = FamilyDef<ControlServerStats>;

const REASONS: readonly ClosedReason[] = ['evicted', 'line_timeout', 'idle_timeout', 'line_too_long', 'slow_reader'];

/** What a registry without a control socket (tests of the metrics port alone) reports. */
export const NO_CONTROL_SOCKET: ControlServerStats = {
  clients: 0,
  accepted: 0,
  rejected: 0,
  dropped: 0,
  closed: { evicted: 0, line_timeout: 0, idle_timeout: 0, line_too_long: 0, slow_reader: 0 },
};

export const CONTROL_FAMILIES: Def[] = [
  {
    name: 'netmon_control_clients',
    help: 'Clients connected to the control socket.',
    type: 'gauge',
    read: (s) => [{ labels: {}, value: s.clients }],
  },
  {
    name: 'netmon_control_clients_accepted_total',
    help: 'Clients the control socket accepted.',
    type: 'counter',
    read: (s) => [{ labels: {}, value: s.accepted }],
  },
  {
    name: 'netmon_control_clients_refused_total',
    help: 'Clients refused at the client limit with no idle client to close (E_TOO_MANY_CLIENTS).',
    type: 'counter',
    read: (s) => [{ labels: {}, value: s.rejected }],
  },
  {
    name: 'netmon_control_clients_closed_total',
    help: 'Control clients closed by a limit, by reason (evicted, line_timeout, idle_timeout, line_too_long, slow_reader).',
    type: 'counter',
    read: (s) => REASONS.map((reason) => ({ labels: { reason }, value: s.closed[reason] })),
  },
];
