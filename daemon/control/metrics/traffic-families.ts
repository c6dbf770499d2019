// Per-listener and per-pool metric families: accepted and rejected connections,
// bytes, protocols seen on the first bytes, the algorithm in use and queues.
import { PEEK_MISS_REASONS, PROTOCOLS, REJECT_REASONS, RESET_SIDES } from '../../state/names.js';
import { ALGORITHMS } from '../../config/schema.js';
import { stateSet, type FamilyDef, type Sample } from './family.js';
import type { ListenerView, ScrapeView } from './scrape.js';
import type { PoolSnapshot } from '../snapshot/snapshot.js';

type Def = FamilyDef<ScrapeView>;

function perListener(name: string, help: string, type: 'counter' | 'gauge', value: (l: ListenerView) => number): Def {
  return { name, help, type, read: (v) => v.listeners.map((l) => ({ labels: l.labels, value: value(l) })) };
}

function perPool(name: string, help: string, type: 'counter' | 'gauge', value: (p: PoolSnapshot) => number): Def {
  return { name, help, type, read: (v) => v.snap.pools.map((p) => ({ labels: { pool: p.name }, value: value(p) })) };
}

export const LISTENER_FAMILIES: Def[] = [
  perListener(
    'netmon_listener_connections_total',
    'Client connections accepted by the listener.',
    'counter',
    (l) => l.accepted,
  ),
  perListener(
    'netmon_listener_active_connections',
    'Client connections open on the listener now.',
    'gauge',
    (l) => l.snap.active,
  ),
  perListener(
    'netmon_listener_max_connections',
    'Configured connection limit of the listener; 0 = unlimited.',
    'gauge',
    (l) => l.snap.maxConnections,
  ),
  perListener(
    'netmon_listener_enabled',
    '1 while the listener accepts connections, 0 when disabled at run time.',
    'gauge',
    (l) => (l.snap.enabled ? 1 : 0),
  ),
  {
    name: 'netmon_listener_info',
    help: 'Always 1; labels: bind (the address bound, a port 0 as the one port every worker was given), configured (as written), serving (where workers accept; empty when not served).',
    type: 'gauge',
    read: (v) =>
      v.listeners.map((l) => ({
        labels: { ...l.labels, bind: l.snap.bind, configured: l.snap.configuredBind, serving: l.snap.serving ?? '' },
        value: 1,
      })),
  },
  perListener(
    'netmon_listener_bytes_in_total',
    'Bytes received from clients on the listener, counted as they are relayed.',
    'counter',
    (l) => l.bytesIn,
  ),
  perListener(
    'netmon_listener_bytes_out_total',
    'Bytes sent to clients on the listener, counted as they are relayed.',
    'counter',
    (l) => l.bytesOut,
  ),
  perListener(
    'netmon_listener_source_entries',
    'Client sources (addresses or prefixes) the listener tracks for source_limits, against its table_size.',
    'gauge',
    (l) => l.sources.entries,
  ),
  perListener(
    'netmon_listener_source_evictions_total',
    'Tracked sources of the listener forgotten to make room (least recently seen idle first).',
    'counter',
    (l) => l.sources.evictions,
  ),
  perListener(
    'netmon_listener_source_untracked_total',
    'Connections admitted without per-source limits because every nearby table entry had open connections.',
    'counter',
    (l) => l.sources.degraded,
  ),
  {
    name: 'netmon_listener_rejected_connections_total',
    help: 'Client connections refused or closed before relaying, by reason.',
    type: 'counter',
    read: (v) => {
      const out: Sample[] = [];
      for (const l of v.listeners) {
        for (const reason of REJECT_REASONS)
          out.push({ labels: { ...l.labels, reason }, value: l.rejected[reason] ?? 0 });
      }
      return out;
    },
  },
  {
    name: 'netmon_protocol_connections_total',
    help: 'Connections by the protocol seen on their first bytes, on listeners that peek (inspect_delay > 0): tls, http1, http2, ssh, other from the client; mysql, smtp, ftp, ssh from a server that speaks first; unknown when nothing was seen.',
    type: 'counter',
    read: (v) => {
      const out: Sample[] = [];
      for (const l of v.listeners) {
        for (const protocol of PROTOCOLS)
          out.push({ labels: { ...l.labels, protocol }, value: l.protocols[protocol] ?? 0 });
      }
      return out;
    },
  },
  {
    name: 'netmon_listener_peek_misses_total',
    help: 'Peeks on a listener with routes that ended without a verdict, so the listener pool was used: too_large (inspect_bytes), timeout (inspect_delay), client_end, not_tls, bad_hello.',
    type: 'counter',
    read: (v) => {
      const out: Sample[] = [];
      for (const l of v.listeners) {
        for (const reason of PEEK_MISS_REASONS)
          out.push({ labels: { ...l.labels, reason }, value: l.peekMisses[reason] ?? 0 });
      }
      return out;
    },
  },
  {
    name: 'netmon_listener_resets_total',
    help: 'Client connections reset (RST or a socket error) in any phase, by the side that reset: client or backend; the reset is passed on to the other side.',
    type: 'counter',
    read: (v) => {
      const out: Sample[] = [];
      for (const l of v.listeners) {
        for (const side of RESET_SIDES) out.push({ labels: { ...l.labels, side }, value: l.resets[side] ?? 0 });
      }
      return out;
    },
  },
];

export const POOL_FAMILIES: Def[] = [
  {
    name: 'netmon_pool_algorithm',
    help: 'Balancing strategy in use by the pool (state-set; for adaptive, the strategy it chose).',
    type: 'gauge',
    read: (v) => {
      const out: Sample[] = [];
      for (const p of v.snap.pools) stateSet('algorithm', ALGORITHMS, p.activeAlgorithm, { pool: p.name }, out);
      return out;
    },
  },
  {
    name: 'netmon_pool_configured_algorithm',
    help: 'Balancing algorithm configured for the pool (state-set).',
    type: 'gauge',
    read: (v) => {
      const out: Sample[] = [];
      for (const p of v.snap.pools) stateSet('algorithm', ALGORITHMS, p.algorithm, { pool: p.name }, out);
      return out;
    },
  },
  perPool(
    'netmon_pool_adaptive_switches_total',
    'Strategy switches made by the adaptive algorithm.',
    'counter',
    (p) => p.adaptiveSwitches,
  ),
  perPool(
    'netmon_pool_queue_length',
    'Connections queued in the pool waiting for a free backend slot.',
    'gauge',
    (p) => p.queued,
  ),
  perPool('netmon_pool_backends', 'Backends configured in the pool.', 'gauge', (p) => p.total),
  perPool('netmon_pool_backends_up', 'Backends of the pool that are up and ready.', 'gauge', (p) => p.up),
];
