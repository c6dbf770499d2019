// Discovery off the connection path, measured: new connections per second to a
// pool whose backends are DNS names, asked of a name server that answers every
// query 50 ms late (dnsmasq behind a delaying proxy, TTL 1 s, so each name is
// asked again every second during the run), against the same pool written with
// literal addresses. Both daemons run side by side; runs interleave. The two
// rates should be equal within noise: a connection never waits for a name.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DOMAIN, startDnsmasq, startSlowDns } from './dns-server.js';
import { runCompare } from './compare.js';
import { formatSpread, type Spread } from './measure/stats.js';
import { netmonKind } from './proxies/netmon.js';
import { markdownTable } from './report/markdown.js';
import { summarise } from './report/summary.js';
import { newConnection } from './workloads/http.js';
import { which } from './workloads/tools.js';

/** how late the name server answers, ms */
const RESOLVER_DELAY_MS = 50;

interface DiscoveryRow {
  proxy: string;
  cps: Spread;
  p99_ms: Spread;
  cpu_s_per_10k: Spread;
}

export interface DiscoveryResult {
  rows: DiscoveryRow[];
  /** median connections/s of the DNS-named pool over the literal one's */
  ratio: number;
  /** the literal pool's CPU seconds per 10k connections over the DNS-named one's (above 1: the DNS pool costs less) */
  cpuRatio: number;
  /** DNS answers the delaying proxy sent back during the runs (each 50 ms late) */
  answers: number;
  skipped: string[];
}

export async function runDiscovery(o: {
  runs: number;
  durationS: number;
  log(line: string): void;
}): Promise<DiscoveryResult> {
  if (!(await which('dnsmasq'))) {
    return {
      rows: [],
      ratio: NaN,
      cpuRatio: NaN,
      answers: 0,
      skipped: ['dnsmasq is not installed (Debian: dnsmasq-base)'],
    };
  }
  const names = [1, 2, 3].map((i) => `b${i}.${DOMAIN}`);
  const dns = await startDnsmasq(names.map((n) => `127.0.0.1 ${n}`));
  const slow = await startSlowDns(dns.port, RESOLVER_DELAY_MS);
  try {
    const resolvers = [
      '[resolvers]',
      `nameservers = ["127.0.0.1:${slow.port}"]`,
      'family = "ipv4"',
      // each name asked again every second (TTL 1 s), every answer 50 ms late
      'timeout = { resolve = "1s", retry = "1s" }',
    ].join('\n');
    const literal = netmonKind({}, 'netmon-literal');
    const named = netmonKind(
      { backendAddress: (port, i) => `${names[i % names.length]}:${port}`, extra: resolvers },
      'netmon-dns',
    );
    const result = await runCompare({
      proxies: [literal, named],
      workloads: [newConnection],
      runs: o.runs,
      durationS: o.durationS,
      idleConnections: 0,
      log: o.log,
    });
    const summary = summarise(result.samples)['new-connection'] ?? {};
    const rows = result.proxies.map((proxy) => ({
      proxy,
      cps: summary[proxy]!.cps!,
      p99_ms: summary[proxy]!.p99_ms!,
      cpu_s_per_10k: summary[proxy]!.cpu_s_per_10k!,
    }));
    const cps = (name: string): number => rows.find((r) => r.proxy === name)?.cps.median ?? NaN;
    const cpu = (name: string): number => rows.find((r) => r.proxy === name)?.cpu_s_per_10k.median ?? NaN;
    return {
      rows,
      ratio: cps('netmon-dns') / cps('netmon-literal'),
      cpuRatio: cpu('netmon-literal') / cpu('netmon-dns'),
      answers: slow.released,
      skipped: result.skipped,
    };
  } finally {
    await slow.close();
    await dns.close();
  }
}

export function writeDiscovery(
  out: string,
  suffix: string,
  r: DiscoveryResult,
  meta: { runs: number; durationS: number; machine: string },
): void {
  const md = [
    `## Discovery off the connection path${suffix ? ' (quick run)' : ''}`,
    '',
    `${meta.machine}; ${meta.runs} runs x ${meta.durationS}s, medians ±half the min..max spread.`,
    `A new connection per request through netmon (1 worker) to 3 backends: written as literal addresses, or as 3 DNS names`,
    `asked of a name server that answers ${RESOLVER_DELAY_MS} ms late (TTL 1 s: each name asked again every second; ${r.answers} answers in all, each late).`,
    '',
    r.rows.length > 0
      ? markdownTable(
          ['pool', 'connections/s', 'p99 ms', 'CPU s per 10k', 'connections/s vs literal', 'CPU cost vs literal'],
          r.rows.map((row) => [
            row.proxy === 'netmon-dns' ? `DNS names (resolver +${RESOLVER_DELAY_MS} ms)` : 'literal addresses',
            formatSpread(row.cps),
            formatSpread(row.p99_ms),
            formatSpread(row.cpu_s_per_10k),
            row.proxy === 'netmon-dns' ? `${r.ratio.toFixed(2)}x` : '1.00x',
            row.proxy === 'netmon-dns' ? `${r.cpuRatio.toFixed(2)}x` : '1.00x',
          ]),
        )
      : 'Not measured.',
    '',
    r.skipped.length > 0 ? `Skipped:\n\n${r.skipped.map((s) => `- ${s}`).join('\n')}\n` : '',
  ].join('\n');
  writeFileSync(join(out, `discovery${suffix}.md`), md);
  writeFileSync(join(out, `discovery${suffix}.json`), JSON.stringify({ ...meta, ...r }, null, 2) + '\n');
}
