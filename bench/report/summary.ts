// From raw samples to what the results files show: medians with spread per
// workload, proxy and measurement; ratios against HAProxy and the Node pipe proxy;
// and the targets, each with its verdict.
import type { CompareResult, Sample } from '../compare.js';
import { formatNumber, formatSpread, spreadOf, type Spread } from '../measure/stats.js';
import { markdownTable } from './markdown.js';
import type { Chart, ChartGroup } from './svg.js';

const NETMON = 'netmon';
const HAPROXY = 'haproxy';
const PIPE = 'node-pipe';

interface MetricInfo {
  label: string;
  higherIsBetter: boolean;
}

/** the measurement that ranks proxies on each workload, and its CPU cost */
const PRIMARY: Record<string, { metric: string; cpu?: string } & MetricInfo> = {
  'keepalive-autocannon': { metric: 'rps', cpu: 'cpu_s_per_10k', label: 'requests/s', higherIsBetter: true },
  'keepalive-wrk': { metric: 'rps', cpu: 'cpu_s_per_10k', label: 'requests/s', higherIsBetter: true },
  'new-connection': { metric: 'cps', cpu: 'cpu_s_per_10k', label: 'connections/s', higherIsBetter: true },
  'bulk-1': { metric: 'gbps', cpu: 'cpu_s_per_gb', label: 'Gbit/s', higherIsBetter: true },
  'bulk-4': { metric: 'gbps', cpu: 'cpu_s_per_gb', label: 'Gbit/s', higherIsBetter: true },
  idle: { metric: 'rss_mb', label: 'RSS MB', higherIsBetter: false },
  paced: { metric: 'p99_ms', cpu: 'cpu_s_per_10k', label: 'p99 ms', higherIsBetter: false },
};

export type Summary = Record<string, Record<string, Record<string, Spread>>>;

/** workload -> proxy -> measurement -> spread over runs */
export function summarise(samples: readonly Sample[]): Summary {
  const grouped: Record<string, Record<string, Record<string, number[]>>> = {};
  for (const s of samples) {
    const byProxy = (grouped[s.workload] ??= {});
    const byMetric = (byProxy[s.proxy] ??= {});
    for (const [k, v] of Object.entries(s.values)) (byMetric[k] ??= []).push(v);
  }
  const out: Summary = {};
  for (const [w, byProxy] of Object.entries(grouped)) {
    out[w] = {};
    for (const [p, byMetric] of Object.entries(byProxy)) {
      out[w][p] = {};
      for (const [k, values] of Object.entries(byMetric)) out[w][p][k] = spreadOf(values);
    }
  }
  return out;
}

/** netmon's value over the reference's, oriented so that above 1 is better for netmon */
function ratio(summary: Summary, workload: string, metric: string, reference: string, higherIsBetter: boolean): number {
  const n = summary[workload]?.[NETMON]?.[metric]?.median ?? NaN;
  const r = summary[workload]?.[reference]?.[metric]?.median ?? NaN;
  if (!Number.isFinite(n) || !Number.isFinite(r) || n === 0 || r === 0) return NaN;
  return higherIsBetter ? n / r : r / n;
}

export interface Target {
  what: string;
  value: number;
  goal: string;
  met: boolean | undefined;
  /** the same comparison on CPU cost (reference CPU / netmon CPU), when there is one */
  cpuRatio?: number;
}

export function targets(summary: Summary, ka: string): Target[] {
  const out: Target[] = [];
  const check = (what: string, value: number, min: number, cpuRatio?: number): void => {
    const t: Target = { what, value, goal: `>= ${min}`, met: Number.isFinite(value) ? value >= min : undefined };
    if (cpuRatio !== undefined) t.cpuRatio = cpuRatio;
    out.push(t);
  };
  const cpu = (w: string, ref: string): number => {
    const m = PRIMARY[w]?.cpu;
    return m ? ratio(summary, w, m, ref, false) : NaN;
  };
  check(`keep-alive requests/s vs HAProxy (${ka})`, ratio(summary, ka, 'rps', HAPROXY, true), 0.85, cpu(ka, HAPROXY));
  check(
    'connections/s vs HAProxy',
    ratio(summary, 'new-connection', 'cps', HAPROXY, true),
    0.6,
    cpu('new-connection', HAPROXY),
  );
  check('bulk 1 stream vs HAProxy', ratio(summary, 'bulk-1', 'gbps', HAPROXY, true), 0.9, cpu('bulk-1', HAPROXY));
  check('bulk 4 streams vs HAProxy', ratio(summary, 'bulk-4', 'gbps', HAPROXY, true), 0.9, cpu('bulk-4', HAPROXY));
  for (const [w, p] of Object.entries(PRIMARY)) {
    if (!summary[w]?.[NETMON] || !summary[w]?.[PIPE]) continue;
    check(`${w} ${p.label} vs Node pipe proxy`, ratio(summary, w, p.metric, PIPE, p.higherIsBetter), 1.0, cpu(w, PIPE));
  }
  const p99 = summary.paced?.[NETMON]?.p99_ms?.median ?? NaN;
  out.push({
    what: 'p99 at 800 requests/s per backend (ms)',
    value: p99,
    goal: '<= 50',
    met: Number.isFinite(p99) ? p99 <= 50 : undefined,
  });
  const rss = summary.idle?.[NETMON]?.rss_mb?.median ?? NaN;
  const conns = summary.idle?.[NETMON]?.connections?.median ?? NaN;
  out.push({
    what: `RSS with ${formatNumber(conns)} idle connections (MB)`,
    value: rss,
    goal: '<= 200',
    met: Number.isFinite(rss) ? rss <= 200 : undefined,
  });
  return out;
}

export function targetsTable(list: readonly Target[]): string {
  return markdownTable(
    ['target', 'netmon', 'goal', 'met', 'CPU-cost ratio'],
    list.map((t) => [
      t.what,
      Number.isFinite(t.value) ? String(+t.value.toFixed(2)) : '-',
      t.goal,
      t.met === undefined ? 'not measured' : t.met ? 'yes' : 'NO',
      t.cpuRatio !== undefined && Number.isFinite(t.cpuRatio) ? `${t.cpuRatio.toFixed(2)}x` : '',
    ]),
  );
}

/** one table per workload: proxies as rows, every measurement as a column */
export function workloadTables(result: CompareResult, summary: Summary): string {
  const parts: string[] = [];
  for (const w of result.workloads) {
    const byProxy = summary[w.name];
    if (!byProxy) continue;
    const metrics = [...new Set(Object.values(byProxy).flatMap((m) => Object.keys(m)))];
    const p = PRIMARY[w.name];
    const header = ['proxy', ...metrics];
    if (p) header.push(`${p.metric} vs haproxy`, `${p.metric} vs node-pipe`);
    const rows = result.proxies
      .filter((name) => byProxy[name])
      .map((name) => {
        const row = [name, ...metrics.map((m) => (byProxy[name]![m] ? formatSpread(byProxy[name]![m]!) : '-'))];
        if (p) {
          const vs = (ref: string): string => {
            // a proxy that held none of the idle connections has nothing to compare
            if (byProxy[name]?.connections?.median === 0 || byProxy[ref]?.connections?.median === 0) return '-';
            const a = byProxy[name]?.[p.metric]?.median ?? NaN;
            const b = byProxy[ref]?.[p.metric]?.median ?? NaN;
            if (!Number.isFinite(a) || !Number.isFinite(b) || a === 0 || b === 0) return '-';
            return `${(p.higherIsBetter ? a / b : b / a).toFixed(2)}x`;
          };
          row.push(vs(HAPROXY), vs(PIPE));
        }
        return row;
      });
    parts.push(`### ${w.title}\n\n${markdownTable(header, rows)}`);
  }
  return parts.join('\n\n');
}

export function compareChart(result: CompareResult, summary: Summary, note: string): Chart {
  const groups: ChartGroup[] = [];
  for (const w of result.workloads) {
    const p = PRIMARY[w.name];
    const byProxy = summary[w.name];
    if (!p || !byProxy) continue;
    const metricGroup = (metric: string, label: string, unit: string): ChartGroup => {
      const values: Record<string, number> = {};
      const range: Record<string, [number, number]> = {};
      for (const name of result.proxies) {
        const s = byProxy[name]?.[metric];
        values[name] = s?.median ?? NaN;
        if (s && s.runs > 1) range[name] = [s.min, s.max];
      }
      return { label, values, unit, range };
    };
    groups.push(
      metricGroup(p.metric, `${w.title}: ${p.label} (${p.higherIsBetter ? 'higher' : 'lower'} is better)`, ''),
    );
    if (p.cpu)
      groups.push(
        metricGroup(
          p.cpu,
          `${w.title}: proxy CPU ${p.cpu === 'cpu_s_per_gb' ? 's per GB' : 's per 10k requests'} (lower is better)`,
          ' s',
        ),
      );
  }
  return { title: 'netmon against HAProxy, nginx and Node proxies', series: result.proxies, groups, note };
}
