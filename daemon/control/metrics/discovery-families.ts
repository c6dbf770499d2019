// Discovery metric families: per source of a pool (labels pool, kind, target):
// its state, how many backends it holds, its refreshes and failures by reason,
// what it changed, and when it last succeeded; plus the running configs refused
// because the backends found did not fit the table.
import { stateSet, type FamilyDef, type Sample } from './family.js';
import type { ScrapeView } from './scrape.js';
import type { DiscoverySnapshot } from '../snapshot/snapshot.js';

type Def = FamilyDef<ScrapeView>;
type Labels = { pool: string; kind: string; target: string };

const STATES: readonly DiscoverySnapshot['state'][] = ['pending', 'ok', 'failing', 'expired'];
const REASONS = ['nx', 'timeout', 'refused', 'invalid', 'disconnected'] as const;
const CHANGES = ['added', 'removed', 'reweighted'] as const;

function each(v: ScrapeView, fn: (labels: Labels, s: DiscoverySnapshot, out: Sample[]) => void): Sample[] {
  const out: Sample[] = [];
  for (const p of v.snap.pools)
    for (const s of p.discovery) fn({ pool: p.name, kind: s.kind, target: s.target }, s, out);
  return out;
}

function perSource(
  name: string,
  help: string,
  type: 'counter' | 'gauge',
  value: (s: DiscoverySnapshot) => number,
): Def {
  return { name, help, type, read: (v) => each(v, (labels, s, out) => out.push({ labels, value: value(s) })) };
}

export const DISCOVERY_FAMILIES: Def[] = [
  {
    name: 'netmon_discovery_state',
    help: 'State of a discovery source, one series per state (1 = current): pending, ok, failing (last good set kept), expired (past the hold time, backends removed).',
    type: 'gauge',
    read: (v) => each(v, (labels, s, out) => stateSet('state', STATES, s.state, labels, out)),
  },
  perSource(
    'netmon_discovery_backends',
    'Backends in the last good set of a discovery source.',
    'gauge',
    (s) => s.backends,
  ),
  perSource(
    'netmon_discovery_refreshes_total',
    'Refreshes of a discovery source (answers, failures, etcd watch events).',
    'counter',
    (s) => s.refreshes,
  ),
  {
    name: 'netmon_discovery_failures_total',
    help: 'Failed refreshes of a discovery source, by reason: nx, timeout, refused (DNS), invalid (an etcd entry refused), disconnected (etcd).',
    type: 'counter',
    read: (v) =>
      each(v, (labels, s, out) =>
        REASONS.forEach((r) => out.push({ labels: { ...labels, reason: r }, value: s.failures[r] })),
      ),
  },
  {
    name: 'netmon_discovery_changes_total',
    help: 'Backends a discovery source added, removed or re-weighted at run time.',
    type: 'counter',
    read: (v) =>
      each(v, (labels, s, out) =>
        CHANGES.forEach((c) => out.push({ labels: { ...labels, change: c }, value: s.changes[c] })),
      ),
  },
  perSource(
    'netmon_discovery_last_success_timestamp_seconds',
    'When a discovery source last answered, seconds since the epoch; 0 before the first answer.',
    'gauge',
    (s) => (s.lastSuccess ?? 0) / 1000,
  ),
  {
    name: 'netmon_discovery_refused_total',
    help: 'Discovered sets not applied because their backends did not fit limits.max_backends.',
    type: 'counter',
    read: (v) => [{ labels: {}, value: v.snap.info.discoveryRefusals }],
  },
];
