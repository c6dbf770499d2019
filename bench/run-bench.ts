// `netmon bench`: the proxy comparison, the algorithm comparison, discovery off
// the connection path and, where a target is missed, a CPU profile of netmon;
// results written to bench/results/.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAlgorithms, PROFILES, type AlgorithmRow } from './algorithms.js';
import { runRecovery } from './algorithms-recovery.js';
import { runCompare, type CompareResult } from './compare.js';
import { runDiscovery, writeDiscovery } from './discovery.js';
import { ensureTools } from './install.js';
import { formatNumber, formatSpread } from './measure/stats.js';
import { profileNetmon } from './profile-run.js';
import { haproxyKind } from './proxies/haproxy.js';
import { netmonKind } from './proxies/netmon.js';
import { nginxKind } from './proxies/nginx.js';
import { directKind, nodeTcpProxyKind, onreadProxyKind, pipeProxyKind } from './proxies/node-peers.js';
import type { ProxyKind } from './proxies/types.js';
import { markdownTable } from './report/markdown.js';
import { recoveryChart, recoveryMarkdown } from './report/recovery.js';
import { compareChart, summarise, targets, targetsTable, workloadTables, type Target } from './report/summary.js';
import { renderSvg } from './report/svg.js';
import { costChartGroups, costLines, costMet, costTable, costTargets, type CostTarget } from './report/cost-targets.js';
import { bulk1, bulk4 } from './workloads/bulk.js';
import { keepAliveAutocannon, keepAliveWrk, newConnection, paced } from './workloads/http.js';
import { idle, idleConnectionsFor } from './workloads/idle.js';
import type { Workload } from './workloads/types.js';

const RESULTS_DIR = fileURLToPath(new URL('../../bench/results/', import.meta.url));

export interface BenchOptions {
  quick: boolean;
  /** which parts run; profile = only the CPU profile of netmon */
  only: 'proxies' | 'algorithms' | 'discovery' | 'profile' | 'all';
  runs?: number;
  durationS?: number;
  idleConnections?: number;
  install: boolean;
  /** profile netmon: auto (when a target is missed), always, never */
  profile: 'auto' | 'always' | 'never';
  outDir?: string;
  /** names of the proxies to compare (default: all) */
  proxies?: readonly string[];
  /** names of the workloads to run (default: all) */
  workloads?: readonly string[];
  /** write the proxy comparison's results again from its JSON (every sample is in it), running nothing */
  render?: string;
}

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

/** the soft open-file limit, which the proxies started from here inherit */
function fdLimit(): number {
  try {
    return Number(execFileSync('sh', ['-c', 'ulimit -n']).toString().trim()) || 1024;
  } catch {
    return 1024;
  }
}

export async function runBench(o: BenchOptions): Promise<number> {
  const out = o.outDir ?? RESULTS_DIR;
  mkdirSync(out, { recursive: true });
  const suffix = o.quick ? '-quick' : '';
  if (o.render !== undefined) {
    const saved = JSON.parse(readFileSync(o.render, 'utf8')) as CompareResult & Parameters<typeof writeCompare>[3];
    writeCompare(out, suffix, saved, saved);
    log(`results of ${o.render} written again in ${out}`);
    return 0;
  }
  const runs = o.runs ?? (o.quick ? 2 : 3);
  const durationS = o.durationS ?? (o.quick ? 3 : 6);
  const machine = `${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.version}`;
  log(`netmon bench${o.quick ? ' --quick' : ''}: ${runs} runs of ${durationS}s per workload and proxy; ${machine}`);
  await ensureTools(log, o.install);
  let missed = false;
  if (o.only === 'all' || o.only === 'proxies') {
    const limit = fdLimit();
    const wanted = o.idleConnections ?? 10_000;
    const idleConnections = idleConnectionsFor(limit, wanted);
    if (idleConnections < wanted) {
      log(
        `the open-file limit is ${limit} (ulimit -n; raise it to ${2 * wanted + 1000} for ${wanted}): the idle workload holds ${idleConnections} connections`,
      );
    }
    const allProxies: ProxyKind[] = [
      directKind,
      netmonKind(),
      netmonKind({ relay: 'js' }, 'netmon-js'),
      haproxyKind,
      nginxKind,
      nodeTcpProxyKind,
      pipeProxyKind,
    ];
    const allWorkloads: Workload[] = [keepAliveWrk, keepAliveAutocannon, newConnection, bulk1, bulk4, paced];
    if (idleConnections > 0) allWorkloads.push(idle);
    // by name only (--proxies): a design study, not one of the proxies compared by default
    const proxies = o.proxies ? pick([...allProxies, onreadProxyKind], o.proxies, 'proxy') : allProxies;
    const workloads = pick(allWorkloads, o.workloads, 'workload');
    const result = await runCompare({ proxies, workloads, runs, durationS, idleConnections, log });
    const { list, cost } = writeCompare(out, suffix, result, {
      runs,
      durationS,
      machine,
      idleConnections,
      fdLimit: limit,
    });
    missed = list.some((t) => t.met === false) || cost.some((t) => costMet(t) === false);
    for (const t of list)
      log(
        `target ${t.what}: ${Number.isFinite(t.value) ? t.value.toFixed(2) : '-'} (${t.goal}) ${t.met === undefined ? 'not measured' : t.met ? 'met' : 'MISSED'}`,
      );
    for (const line of costLines(cost)) log(line);
  }
  if (o.only === 'all' || o.only === 'algorithms') {
    const requests = o.quick ? 1500 : 6000;
    const rate = 500;
    const { samples, rows } = await runAlgorithms({ runs: o.quick ? 1 : 3, requests, rate, log });
    const phases = o.quick ? { beforeS: 6, slowS: 12, afterS: 16 } : { beforeS: 20, slowS: 30, afterS: 40 };
    const recoveryRate = o.quick ? 50 : 100;
    const recovery = await runRecovery({ phases, rate: recoveryRate, log });
    writeAlgorithms(
      out,
      suffix,
      rows,
      { requests, rate, machine },
      recoveryMarkdown(recovery.rows, phases, recoveryRate),
    );
    writeFileSync(join(out, `algorithms-recovery${suffix}.svg`), recoveryChart(recovery.seconds, phases, recoveryRate));
    writeFileSync(
      join(out, `algorithms${suffix}.json`),
      JSON.stringify(
        { machine, requests, rate, samples, rows, recovery: { rate: recoveryRate, ...recovery } },
        null,
        2,
      ) + '\n',
    );
  }
  if (o.only === 'all' || o.only === 'discovery') {
    const r = await runDiscovery({ runs, durationS, log });
    writeDiscovery(out, suffix, r, { runs, durationS, machine });
    log(
      `discovery: DNS-named backends (resolver +50 ms) vs literal: connections/s ${r.ratio.toFixed(2)}x, CPU cost ${r.cpuRatio.toFixed(2)}x`,
    );
  }
  if (o.only === 'profile' || o.profile === 'always' || (o.profile === 'auto' && missed)) {
    await profileNetmon(out, suffix, Math.min(durationS, 5), log);
  }
  log(`results in ${out}`);
  return 0;
}

/** the named subset of `all` (all when `names` is undefined); an unknown name is an error */
function pick<T extends { name: string }>(all: readonly T[], names: readonly string[] | undefined, what: string): T[] {
  if (names === undefined) return [...all];
  for (const n of names) {
    if (!all.some((x) => x.name === n))
      throw new Error(`unknown ${what} ${n} (one of ${all.map((x) => x.name).join(', ')})`);
  }
  return all.filter((x) => names.includes(x.name));
}

function writeCompare(
  out: string,
  suffix: string,
  result: CompareResult,
  meta: { runs: number; durationS: number; machine: string; idleConnections: number; fdLimit: number },
): { list: Target[]; cost: CostTarget[] } {
  const summary = summarise(result.samples);
  const ka = result.workloads.some((w) => w.name === 'keepalive-wrk') ? 'keepalive-wrk' : 'keepalive-autocannon';
  const list = targets(summary, ka);
  const cost = costTargets(result.samples, ka);
  const note = `${meta.machine}; ${meta.runs} runs x ${meta.durationS}s, medians, bars = min..max`;
  const md = [
    `## Proxies side by side${suffix ? ' (quick run)' : ''}`,
    '',
    `${note}. netmon: 1 worker, HTTP health checks on, access log off; HAProxy nbthread 1; nginx 1 worker.`,
    `Cells: median ±half the min..max spread over runs. Ratios: above 1 is better for the row's proxy.`,
    '',
    '### Targets',
    '',
    targetsTable(list),
    '',
    "CPU-cost ratio: the reference proxy's CPU seconds per unit of work over netmon's (above 1: netmon spends less).",
    '',
    '### Cost per unit of work, for each relay',
    '',
    costTable(cost),
    '',
    "netmon: the native relay; netmon-js: Node sockets. CPU: netmon's CPU seconds per unit over HAProxy's in the same run, median and min..max over runs. RSS per idle connection: the growth of the proxy's RSS over the idle connections it holds.",
    '',
    workloadTables(result, summary),
    '',
    result.skipped.length > 0 ? `Skipped:\n\n${result.skipped.map((s) => `- ${s}`).join('\n')}\n` : '',
    meta.idleConnections < 10_000
      ? `The idle workload held ${meta.idleConnections} connections: the open-file limit here is ${meta.fdLimit}.\n`
      : '',
  ].join('\n');
  writeFileSync(join(out, `proxies${suffix}.md`), md);
  const chart = compareChart(result, summary, note);
  writeFileSync(
    join(out, `proxies${suffix}.svg`),
    renderSvg({ ...chart, groups: [...costChartGroups(cost), ...chart.groups] }),
  );
  writeFileSync(
    join(out, `proxies${suffix}.json`),
    JSON.stringify({ ...meta, ...result, summary, targets: list, cost }, null, 2) + '\n',
  );
  return { list, cost };
}

function writeAlgorithms(
  out: string,
  suffix: string,
  rows: readonly AlgorithmRow[],
  meta: { requests: number; rate: number; machine: string },
  recovery: string,
): void {
  const pct = (v: number): string => (Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '-');
  const backends = PROFILES.map((p) => `${p.name} (latency ${p.latency}, errors ${Number(p.errorRate) * 100}%)`).join(
    ', ',
  );
  const md = [
    `## Balancing algorithms${suffix ? ' (quick run)' : ''}`,
    '',
    `${meta.machine}. Backends: ${backends}. ${meta.requests} requests per run at ${meta.rate}/s, one TCP connection per request, all from 127.0.0.1.`,
    "Fairness: Jain's index of the request shares (1 = even, 0.33 = all on one backend); an algorithm that avoids the slow or flaky backend is unfair on purpose.",
    '',
    markdownTable(
      ['algorithm', 'p50 ms', 'p95 ms', 'p99 ms', 'errors', ...PROFILES.map((p) => `${p.name} share`), 'fairness'],
      rows.map((r) => [
        r.algorithm,
        formatSpread(r.p50),
        formatSpread(r.p95),
        formatSpread(r.p99),
        pct(r.errorRate.median),
        ...PROFILES.map((p) => pct(r.shares[p.name] ?? NaN)),
        formatNumber(r.fairness.median),
      ]),
    ),
    '',
    recovery,
  ].join('\n');
  writeFileSync(join(out, `algorithms${suffix}.md`), md);
  const series = rows.map((r) => r.algorithm);
  const group = (
    label: string,
    f: (r: AlgorithmRow) => number,
    unit: string,
  ): { label: string; values: Record<string, number>; unit: string } => ({
    label,
    unit,
    values: Object.fromEntries(rows.map((r) => [r.algorithm, f(r)])),
  });
  writeFileSync(
    join(out, `algorithms${suffix}.svg`),
    renderSvg({
      title: 'netmon balancing algorithms: fast, slow and flaky backends',
      note: `${meta.requests} requests at ${meta.rate}/s per run, medians`,
      series,
      groups: [
        group('p50 latency (ms, lower is better)', (r) => r.p50.median, ' ms'),
        group('p95 latency (ms, lower is better)', (r) => r.p95.median, ' ms'),
        group('p99 latency (ms, lower is better)', (r) => r.p99.median, ' ms'),
        group('error rate (%, lower is better)', (r) => r.errorRate.median * 100, '%'),
        ...PROFILES.map((p) => group(`share sent to ${p.name} (%)`, (r) => (r.shares[p.name] ?? NaN) * 100, '%')),
        group('fairness (Jain index, 1 = even)', (r) => r.fairness.median, ''),
      ],
    }),
  );
}
