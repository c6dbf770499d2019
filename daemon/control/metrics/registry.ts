// The prom-client registry of the metrics port. Every family reads one per-scrape
// view of the state table (see scrape.ts), so a scrape costs one snapshot and
// never a message to a worker thread.
import { Registry } from 'prom-client';
import { Family, type FamilyDef } from './family.js';
import { ScrapeSource, type ScrapeView } from './scrape.js';
import { BACKEND_FAMILIES } from './backend-families.js';
import { LISTENER_FAMILIES, POOL_FAMILIES } from './traffic-families.js';
import { PROCESS_FAMILIES } from './process-families.js';
import { CONTROL_FAMILIES, NO_CONTROL_SOCKET } from './control-families.js';
import type { ControlServerStats } from '../socket/server.js';
import { DISCOVERY_FAMILIES } from './discovery-families.js';
import type { Table } from '../../state/table.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import type { HealthReport } from '../service-health.js';
import { HEALTH_FAMILIES } from './health-family.js';

/** What the metrics port reads: the Daemon satisfies it. */
export interface MetricsSource {
  readonly table: Table;
  readonly topology: {
    backends: { get(key: string): number | undefined };
    listeners: { get(name: string): number | undefined };
  };
  snapshot(): Snapshot;
  /** /healthz and netmon_healthy */
  serviceHealth(): HealthReport;
}

const ALL_FAMILIES: readonly FamilyDef<ScrapeView>[] = [
  ...PROCESS_FAMILIES,
  ...LISTENER_FAMILIES,
  ...POOL_FAMILIES,
  ...BACKEND_FAMILIES,
  ...DISCOVERY_FAMILIES,
];

/** `control`: the control socket's counters, read at each scrape (zeros without one). */
export function createRegistry(source: MetricsSource, control?: () => ControlServerStats): Registry {
  const registry = new Registry();
  const scrape = new ScrapeSource(source.table, () => source.snapshot(), {
    backend: (key) => source.topology.backends.get(key),
    listener: (name) => source.topology.listeners.get(name),
  });
  const view = (): ScrapeView => scrape.view();
  type Metric = Parameters<Registry['registerMetric']>[0];
  for (const def of ALL_FAMILIES) registry.registerMetric(new Family(def, view) as unknown as Metric);
  const health = (): HealthReport => source.serviceHealth();
  for (const def of HEALTH_FAMILIES) registry.registerMetric(new Family(def, health) as unknown as Metric);
  const controlView = control ?? ((): ControlServerStats => NO_CONTROL_SOCKET);
  for (const def of CONTROL_FAMILIES) registry.registerMetric(new Family(def, controlView) as unknown as Metric);
  return registry;
}

/** Every series name a scrape can contain (histograms expand to _bucket, _sum, _count). */
export function exportedSeriesNames(): string[] {
  const names: string[] = HEALTH_FAMILIES.map((f) => f.name);
  for (const f of [...ALL_FAMILIES, ...CONTROL_FAMILIES]) {
    if (f.type === 'histogram') names.push(`${f.name}_bucket`, `${f.name}_sum`, `${f.name}_count`);
    else names.push(f.name);
  }
  return names;
}
