// One metric family whose samples are computed at scrape time from a read
// function, in the shape prom-client's Registry formats. prom-client's own
// Counter/Gauge/Histogram keep their values in the process and cannot be fed
// counts that already live in the state table (a Histogram cannot be given
// pre-aggregated buckets), so netmon's families read the table on each scrape.
import type { HistogramSnapshot } from '../../state/backend-stats.js';

export type MetricKind = 'counter' | 'gauge' | 'histogram';
export type Labels = Record<string, string>;

export interface Sample {
  labels: Labels;
  value: number;
  /** set for a histogram's _bucket/_sum/_count series */
  metricName?: string;
}

export interface FamilyDef<V> {
  name: string;
  help: string;
  type: MetricKind;
  read(view: V): Sample[];
}

/** The object prom-client's Registry#registerMetric and #metrics() work with. */
export class Family<V> {
  readonly name: string;
  readonly help: string;
  readonly type: MetricKind;
  readonly aggregator = 'sum' as const;
  private readonly readFn: (view: V) => Sample[];
  private readonly view: () => V;

  constructor(def: FamilyDef<V>, view: () => V) {
    this.name = def.name;
    this.help = def.help;
    this.type = def.type;
    this.readFn = def.read;
    this.view = view;
  }

  async get(): Promise<{ name: string; help: string; type: MetricKind; aggregator: 'sum'; values: Sample[] }> {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: this.readFn(this.view()),
    };
  }

  reset(): void {
    // values live in the state table; nothing to reset here
  }
}

/** _bucket (cumulative, with le), _sum and _count series of one histogram. */
export function histogramSamples(name: string, labels: Labels, h: HistogramSnapshot, out: Sample[]): void {
  let cumulative = 0;
  for (let k = 0; k < h.counts.length; k++) {
    cumulative += h.counts[k]!;
    const le = k < h.bounds.length ? formatLe(h.bounds[k]!) : '+Inf';
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: cumulative });
  }
  out.push({ metricName: `${name}_sum`, labels, value: h.sum });
  out.push({ metricName: `${name}_count`, labels, value: cumulative });
}

function formatLe(bound: number): string {
  return String(bound);
}

/** One sample per name in `all`, 1 for `current` and 0 for the rest (state-set style). */
export function stateSet(label: string, all: readonly string[], current: string, labels: Labels, out: Sample[]): void {
  for (const s of all) out.push({ labels: { ...labels, [label]: s }, value: s === current ? 1 : 0 });
}
