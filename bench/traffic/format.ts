// The human summary of a traffic run.
import type { TrafficSummary } from './recorder.js';

function pct(n: number, of: number): string {
  return of > 0 ? `${((n / of) * 100).toFixed(1)}%` : '-';
}

export function formatSummary(s: TrafficSummary): string {
  const l = s.latencyMs;
  const lines = [
    `target      ${s.target} (${s.mode})`,
    `requests    ${s.requests} in ${(s.durationMs / 1000).toFixed(2)}s = ${s.rate}/s`,
    `ok          ${s.ok} (${pct(s.ok, s.requests)})`,
    `errors      ${s.errors}${
      s.errors
        ? ` (${pct(s.errors, s.requests)}): ` +
          Object.entries(s.errorsByKind)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')
        : ''
    }`,
    `latency ms  p50 ${l.p50}  p95 ${l.p95}  p99 ${l.p99}  (min ${l.min}, mean ${l.mean.toFixed(3)}, max ${l.max})`,
  ];
  const codes = Object.entries(s.statusCodes);
  if (codes.length > 0) lines.push(`status      ${codes.map(([k, v]) => `${k}: ${v}`).join(', ')}`);
  const dist = Object.entries(s.distribution).sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
  if (dist.length > 0) {
    const total = dist.reduce((n, [, v]) => n + v, 0);
    lines.push('backends');
    for (const [name, n] of dist)
      lines.push(`  ${name.padEnd(10)} ${String(n).padStart(8)}  ${pct(n, total).padStart(6)}`);
  }
  const max = Math.max(1, ...s.histogram.map((b) => b.count));
  if (s.ok > 0) {
    lines.push('latency histogram');
    for (const b of s.histogram) {
      if (b.count === 0) continue;
      const label = b.le === Infinity ? '> 5000ms' : `<= ${b.le}ms`;
      lines.push(
        `  ${label.padStart(9)} ${String(b.count).padStart(8)} ${'#'.repeat(Math.max(1, Math.round((b.count / max) * 40)))}`,
      );
    }
  }
  return lines.join('\n');
}
