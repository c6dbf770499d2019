// Per-backend metric families (labels pool, backend). Counters and histograms are
// summed from the workers' stripes in the state table at scrape time.
import {
  ADMIN_NAMES,
  CONNECT_ERROR_REASONS,
  Histogram,
  OP_NAMES,
  RESET_SIDES,
  RESPONSE_ERROR_REASONS,
} from '../../state/names.js';
import { histogramSamples, stateSet, type FamilyDef, type Sample } from './family.js';
import type { BackendView, ScrapeView } from './scrape.js';

type Def = FamilyDef<ScrapeView>;

function perBackend(
  name: string,
  help: string,
  type: 'counter' | 'gauge',
  value: (b: BackendView) => number | null,
): Def {
  return {
    name,
    help,
    type,
    read: (v) => {
      const out: Sample[] = [];
      for (const b of v.backends) {
        const x = value(b);
        if (x !== null) out.push({ labels: b.labels, value: x });
      }
      return out;
    },
  };
}

function histogram(name: string, help: string, h: Histogram): Def {
  return {
    name,
    help,
    type: 'histogram',
    read: (v) => {
      const out: Sample[] = [];
      for (const b of v.backends) {
        const snap = b.histogram(h);
        if (snap) histogramSamples(name, b.labels, snap, out);
      }
      return out;
    },
  };
}

/** NaN (not reported) becomes no sample; agent percentages become ratios (base unit). */
function agentRatio(pct: number | null): number | null {
  return pct === null ? null : pct / 100;
}

export const BACKEND_FAMILIES: Def[] = [
  perBackend(
    'netmon_backend_connections_total',
    'Connections relayed to the backend (connect succeeded).',
    'counter',
    (b) => b.counters.connections,
  ),
  perBackend(
    'netmon_backend_active_connections',
    'Connections open to the backend now.',
    'gauge',
    (b) => b.snap.active,
  ),
  perBackend(
    'netmon_backend_max_connections',
    'Configured connection limit of the backend; 0 = unlimited.',
    'gauge',
    (b) => b.snap.maxConnections,
  ),
  perBackend(
    'netmon_backend_bytes_in_total',
    'Bytes received from clients and sent to the backend.',
    'counter',
    (b) => b.counters.bytesIn,
  ),
  perBackend(
    'netmon_backend_bytes_out_total',
    'Bytes received from the backend and sent to clients.',
    'counter',
    (b) => b.counters.bytesOut,
  ),
  {
    name: 'netmon_backend_connect_errors_total',
    help: 'Failed connection attempts to the backend, by reason (refused, timeout, other).',
    type: 'counter',
    read: (v) => {
      const out: Sample[] = [];
      for (const b of v.backends) {
        for (const reason of CONNECT_ERROR_REASONS)
          out.push({ labels: { ...b.labels, reason }, value: b.counters.connectErrors[reason] });
      }
      return out;
    },
  },
  {
    name: 'netmon_backend_resets_total',
    help: 'Relayed connections to the backend reset, by the side that reset (client, backend); passed on to the other side as a reset.',
    type: 'counter',
    read: (v) => {
      const out: Sample[] = [];
      for (const b of v.backends) {
        for (const side of RESET_SIDES) out.push({ labels: { ...b.labels, side }, value: b.counters.resets[side] });
      }
      return out;
    },
  },
  {
    name: 'netmon_backend_response_errors_total',
    help: 'Connections the backend accepted and then failed, by reason: empty (closed or reset before sending a byte while the client waited), timeout (nothing within timeouts.first_byte).',
    type: 'counter',
    read: (v) => {
      const out: Sample[] = [];
      for (const b of v.backends) {
        for (const reason of RESPONSE_ERROR_REASONS)
          out.push({ labels: { ...b.labels, reason }, value: b.counters.responseErrors[reason] });
      }
      return out;
    },
  },
  perBackend(
    'netmon_backend_retries_total',
    'Connection attempts retried on another backend after this one failed.',
    'counter',
    (b) => b.counters.retries,
  ),
  perBackend(
    'netmon_backend_passive_failures_total',
    'Times consecutive failed connections (connect errors, empty responses, first-byte timeouts) reached the passive-ejection threshold.',
    'counter',
    (b) => b.counters.passiveFailures,
  ),
  perBackend(
    'netmon_backend_passive_ejections_refused_total',
    'Passive ejections refused because the pool was at passive.max_ejected_share; the backend stayed in service.',
    'counter',
    (b) => b.snap.passiveEjectionsRefused,
  ),
  perBackend(
    'netmon_backend_up',
    '1 when the backend passes its health checks (up or starting), 0 when down.',
    'gauge',
    (b) => (b.snap.op === 'down' ? 0 : 1),
  ),
  {
    name: 'netmon_backend_state',
    help: 'Operational state of the backend (state-set: up, down, starting).',
    type: 'gauge',
    read: (v) => {
      const out: Sample[] = [];
      for (const b of v.backends) stateSet('state', OP_NAMES, b.snap.op, b.labels, out);
      return out;
    },
  },
  {
    name: 'netmon_backend_admin_state',
    help: 'Administrative state of the backend (state-set: ready, drain, maint).',
    type: 'gauge',
    read: (v) => {
      const out: Sample[] = [];
      for (const b of v.backends) stateSet('state', ADMIN_NAMES, b.snap.admin, b.labels, out);
      return out;
    },
  },
  perBackend('netmon_backend_weight', 'Configured weight of the backend.', 'gauge', (b) => b.snap.weight),
  perBackend(
    'netmon_backend_effective_weight',
    'Weight the balancer uses now (lower than configured while slow start ramps up).',
    'gauge',
    (b) => b.snap.effectiveWeight,
  ),
  perBackend(
    'netmon_backend_backup',
    '1 for a backup backend (used only when no primary is eligible).',
    'gauge',
    (b) => (b.snap.backup ? 1 : 0),
  ),
  perBackend(
    'netmon_backend_health_checks_total',
    'Active health probes run against the backend.',
    'counter',
    (b) => b.checks?.checks ?? null,
  ),
  perBackend(
    'netmon_backend_health_check_failures_total',
    'Active health probes that failed.',
    'counter',
    (b) => b.checks?.failures ?? null,
  ),
  perBackend(
    'netmon_backend_health_check_duration_seconds',
    'Duration of the last active health probe.',
    'gauge',
    (b) => (b.snap.check.time > 0 ? b.snap.check.durationMs / 1000 : null),
  ),
  perBackend(
    'netmon_backend_agent_cpu_ratio',
    'CPU use reported by the backend agent (0..1); absent when not reported.',
    'gauge',
    (b) => agentRatio(b.snap.agent.cpu),
  ),
  perBackend(
    'netmon_backend_agent_memory_ratio',
    'Memory use reported by the backend agent (0..1); absent when not reported.',
    'gauge',
    (b) => agentRatio(b.snap.agent.memory),
  ),
  perBackend(
    'netmon_backend_agent_connections',
    'Connections reported by the backend agent; absent when not reported.',
    'gauge',
    (b) => b.snap.agent.connections,
  ),
  histogram(
    'netmon_backend_connect_seconds',
    'Time to establish the TCP connection to the backend.',
    Histogram.Connect,
  ),
  histogram(
    'netmon_backend_first_byte_seconds',
    'Time from the first client byte relayed to the backend (or from the connect, when the backend speaks first) to its first byte; the connect time is apart.',
    Histogram.FirstByte,
  ),
  histogram(
    'netmon_backend_connection_duration_seconds',
    'Lifetime of relayed connections, from connect to close (buckets from 10 ms to 1 h).',
    Histogram.Duration,
  ),
];
