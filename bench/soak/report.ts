// The soak's results: one line per scenario as it ends, and a markdown table
// with the machine it ran on (bench/results/soak.md; docs/reliability.md quotes
// a full run's).
import os from 'node:os';
import { VERSION } from '../../daemon/version.js';
import type { Findings } from './scenario.js';
import type { LoadResult } from './load.js';

export interface Row extends Findings {
  name: string;
  seconds: number;
  /** worker restarts during the scenario, and "daemon died" when it did unasked */
  crashes: string;
  rss: [number, number];
  fds: [number, number];
  pass: boolean;
}

const MB = 1024 * 1024;

function conns(r: LoadResult | null): string {
  if (r === null) return '-';
  return `${r.ok} ok, ${r.failed} failed, ${r.truncated} truncated`;
}

function pair([a, b]: [number, number], f: (n: number) => string): string {
  return `${f(a)} → ${b > 0 ? f(b) : '-'}`;
}

/** One scenario, as printed when it ends. */
export function rowText(r: Row): string {
  return [
    `## ${r.name}: ${r.pass ? 'PASS' : 'FAIL'} (${r.seconds} s)`,
    `  short connections: ${conns(r.short)}`,
    `  streams:           ${conns(r.streams)}`,
    `  unexpected losses: ${r.unexpected} (may lose: ${r.expected})`,
    `  crashes:           ${r.crashes}`,
    `  RSS:               ${pair(r.rss, (n) => `${Math.round(n / MB)} MB`)}`,
    `  fds:               ${pair(r.fds, String)}`,
    ...r.notes.map((n) => `  - ${n}`),
  ].join('\n');
}

function machine(): string {
  const cpus = os.cpus();
  return (
    `${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 1024 ** 3)} GiB, ` +
    `Linux ${os.release()}, Node ${process.version}, netmon ${VERSION}`
  );
}

export function table(rows: Row[], quick: boolean): string {
  const head = [
    `netmon soak${quick ? ' (--quick)' : ''}, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    `machine: ${machine()}`,
    '',
    '| fault | short connections | streams | unexpected losses | may lose | crashes | RSS MB before → after | fds before → after | result |',
    '| --- | --- | --- | ---: | --- | --- | --- | --- | --- |',
  ];
  const lines = rows.map((r) =>
    [
      r.name,
      conns(r.short),
      conns(r.streams),
      String(r.unexpected),
      r.expected,
      r.crashes,
      pair(r.rss, (n) => String(Math.round(n / MB))),
      pair(r.fds, String),
      r.pass ? 'pass' : '**FAIL**',
    ].join(' | '),
  );
  const notes = rows.flatMap((r) => r.notes.map((n) => `- ${r.name}: ${n}`));
  return [...head, ...lines.map((l) => `| ${l} |`), '', ...notes, ''].join('\n');
}
