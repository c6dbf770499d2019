// The slowdown-and-recovery scenario's table and chart: b1's share per phase and
// how soon it got traffic back, per algorithm; and b1's share second by second.
import { b1Share, NORMAL_LATENCY, SLOW_LATENCY } from '../algorithms-recovery.js';
import type { RecoveryPhases, RecoveryRow, RecoverySecond } from '../algorithms-recovery.js';
import { markdownTable } from './markdown.js';
import { renderLines } from './lines.js';

const pct = (v: number): string => (Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '-');

export function recoveryMarkdown(rows: readonly RecoveryRow[], p: RecoveryPhases, rate: number): string {
  return [
    `### A backend that slows down and recovers`,
    '',
    `Three alike backends (${NORMAL_LATENCY}); b1 answers in ${SLOW_LATENCY} from ${p.beforeS} s to ${p.beforeS + p.slowS} s, then as before until ${p.beforeS + p.slowS + p.afterS} s.`,
    `One daemon per algorithm, all at once against the same backends, ${rate} requests/s each (one TCP connection per request, 10 in flight).`,
    "Cells: b1's share of the requests in each phase (a third is even); p95 while slow is the median of the per-second p95s;",
    'back after: seconds from the recovery to the first second in which b1 had a quarter of the requests.',
    '',
    markdownTable(
      ['algorithm', 'b1 before', 'b1 while slow', 'b1 first 10 s after', 'b1 later', 'p95 while slow', 'back after'],
      rows.map((r) => [
        r.algorithm,
        pct(r.before),
        pct(r.slow),
        pct(r.firstAfter),
        pct(r.later),
        Number.isFinite(r.slowP95) ? `${+r.slowP95.toPrecision(3)} ms` : '-',
        Number.isFinite(r.backAfterS) ? `${r.backAfterS} s` : 'never',
      ]),
    ),
    '',
  ].join('\n');
}

export function recoveryChart(seconds: Record<string, RecoverySecond[]>, p: RecoveryPhases, rate: number): string {
  return renderLines({
    title: "netmon balancing algorithms: b1's share while it slows down and recovers",
    note: `three alike backends, b1 at ${SLOW_LATENCY} in the shaded span; ${rate} requests/s per algorithm, share per second`,
    xLabel: 'seconds',
    yLabel: "b1's share of the requests (%)",
    xMax: p.beforeS + p.slowS + p.afterS,
    yMax: 100,
    yUnit: '%',
    spans: [{ from: p.beforeS, to: p.beforeS + p.slowS, label: 'b1 slow' }],
    reference: { y: 100 / 3, label: 'even' },
    series: Object.entries(seconds).map(([name, list]) => ({
      name,
      points: list.map((s) => [s.t, b1Share(s) * 100] as const),
    })),
  });
}
