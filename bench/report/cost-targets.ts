// The data path's cost goals (docs/benchmarks.md): netmon's CPU per unit of
// work over HAProxy's, and its memory per idle connection, for each relay
// netmon ships (netmon: the native relay; netmon-js: Node sockets). Each ratio
// is taken within one run (the two proxies measured minutes apart on the same
// machine and load), then the median over runs, with the min..max of the runs:
// on a shared machine the ratio is steadier than either figure.
import type { Sample } from '../compare.js';
import { spreadOf, type Spread } from '../measure/stats.js';
import { markdownTable } from './markdown.js';
import type { ChartGroup } from './svg.js';

/** the netmon proxies of the comparison: the native relay and Node sockets */
const NETMON_RELAYS = ['netmon', 'netmon-js'] as const;
const HAPROXY = 'haproxy';

export interface CostTarget {
  what: string;
  /** lower is better; the goal is met at or below it */
  goal: number;
  unit: 'x HAProxy' | 'KB';
  /** per netmon proxy: the value's median and min..max over runs (runs: 0 when not measured) */
  values: Record<string, Spread>;
}

/** `proxy`'s `metric` on `workload` per run, over HAProxy's in the same run; or the value itself (`ref` null). */
function perRun(
  samples: readonly Sample[],
  workload: string,
  metric: string,
  proxy: string,
  ref: string | null,
): Spread {
  const of = (p: string, run: number): number =>
    samples.find((s) => s.workload === workload && s.proxy === p && s.run === run)?.values[metric] ?? NaN;
  const runs = [...new Set(samples.filter((s) => s.workload === workload).map((s) => s.run))];
  return spreadOf(runs.map((run) => (ref === null ? of(proxy, run) : of(proxy, run) / of(ref, run))));
}

export function costTargets(samples: readonly Sample[], keepAlive: string): CostTarget[] {
  const rows: [string, string, string, string | null, number, CostTarget['unit']][] = [
    [`CPU per keep-alive request (${keepAlive})`, keepAlive, 'cpu_s_per_10k', HAPROXY, 1.0, 'x HAProxy'],
    ['CPU per new connection', 'new-connection', 'cpu_s_per_10k', HAPROXY, 1.2, 'x HAProxy'],
    ['CPU per GB, bulk 1 stream', 'bulk-1', 'cpu_s_per_gb', HAPROXY, 1.0, 'x HAProxy'],
    ['RSS per idle connection', 'idle', 'kb_per_connection', null, 4, 'KB'],
  ];
  return rows.map(([what, workload, metric, ref, goal, unit]) => {
    const values: Record<string, Spread> = {};
    for (const p of NETMON_RELAYS) values[p] = perRun(samples, workload, metric, p, ref);
    return { what, goal, unit, values };
  });
}

function cell(s: Spread | undefined): string {
  if (s === undefined || s.runs === 0) return 'not measured';
  const f = (v: number): string => String(+v.toFixed(2));
  return `${f(s.median)} (${f(s.min)}..${f(s.max)})`;
}

/** Whether the native relay's median meets the goal; undefined when it was not measured. */
export function costMet(t: CostTarget): boolean | undefined {
  const m = t.values[NETMON_RELAYS[0]];
  return m === undefined || m.runs === 0 ? undefined : m.median <= t.goal;
}

export function costTable(list: readonly CostTarget[]): string {
  return markdownTable(
    ['cost', ...NETMON_RELAYS.map((p) => `${p} median (min..max)`), 'goal', `met (${NETMON_RELAYS[0]})`],
    list.map((t) => {
      const met = costMet(t);
      const verdict = met === undefined ? 'not measured' : met ? 'yes' : 'NO';
      return [t.what, ...NETMON_RELAYS.map((p) => cell(t.values[p])), `<= ${t.goal} ${t.unit}`, verdict];
    }),
  );
}

/** One console line per cost goal: each relay's median (min..max) and the verdict for the native relay. */
export function costLines(list: readonly CostTarget[]): string[] {
  return list.map((t) => {
    const met = costMet(t);
    const values = NETMON_RELAYS.map((p) => `${p} ${cell(t.values[p])}`).join(', ');
    return `cost ${t.what}: ${values} (<= ${t.goal} ${t.unit}) ${met === undefined ? 'not measured' : met ? 'met' : 'MISSED'}`;
  });
}

/** One chart group per cost goal: each netmon relay's median, the runs' min..max as error bars. */
export function costChartGroups(list: readonly CostTarget[]): ChartGroup[] {
  return list.map((t) => {
    const values: Record<string, number> = {};
    const range: Record<string, [number, number]> = {};
    for (const p of NETMON_RELAYS) {
      const s = t.values[p];
      values[p] = s?.median ?? NaN;
      if (s && s.runs > 1) range[p] = [s.min, s.max];
    }
    return { label: `${t.what}, ${t.unit} (goal <= ${t.goal}; lower is better)`, values, unit: '', range };
  });
}
