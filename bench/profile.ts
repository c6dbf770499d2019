// Where netmon spends its CPU: a V8 CPU profile (node --cpu-prof) of the daemon's
// threads, reduced to self time per function and per area of the code.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { markdownTable } from './report/markdown.js';

interface ProfileNode {
  id: number;
  hitCount?: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

export interface ProfileEntry {
  name: string;
  where: string;
  area: string;
  selfMs: number;
}

/** where a frame belongs, in words an operator of netmon can act on */
function areaOf(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'garbage collection';
  if (fn === '(program)' || fn === '(idle)' || fn === '(root)') return fn;
  if (/\/dist\/daemon\/data\/(relay-pump|connection)\.js/.test(url)) return 'netmon relay';
  if (url.includes('/dist/daemon/data/balance/')) return 'netmon balancing';
  if (url.includes('/dist/daemon/state/')) return 'netmon state table';
  if (url.includes('/dist/daemon/')) return 'netmon other';
  if (url.includes('node_modules')) return 'libraries';
  if (/node:internal\/(stream_base_commons|net)|node:net/.test(url)) return 'Node net (sockets)';
  if (url.includes('node:internal/streams') || url.includes('node:stream')) return 'Node streams';
  if (url.includes('node:internal/timers') || url.includes('node:timers')) return 'Node timers';
  if (url.startsWith('node:')) return 'Node other';
  if (url === '') return 'native / V8';
  return 'other';
}

export function summariseProfile(p: CpuProfile): ProfileEntry[] {
  const totalHits = p.nodes.reduce((n, x) => n + (x.hitCount ?? 0), 0);
  const msPerHit = totalHits > 0 ? (p.endTime - p.startTime) / 1000 / totalHits : 0;
  const byKey = new Map<string, ProfileEntry>();
  for (const n of p.nodes) {
    const hits = n.hitCount ?? 0;
    if (hits === 0) continue;
    const f = n.callFrame;
    const file = f.url.replace(/^.*\/(dist|node_modules)\//, '$1/');
    const name = f.functionName || '(anonymous)';
    const where = file ? `${file}:${f.lineNumber + 1}` : '';
    const key = `${name}@${where}`;
    const e = byKey.get(key) ?? { name, where, area: areaOf(f.url, name), selfMs: 0 };
    e.selfMs += hits * msPerHit;
    byKey.set(key, e);
  }
  return [...byKey.values()].sort((a, b) => b.selfMs - a.selfMs);
}

/** markdown: per thread, time by area and the top functions; (idle) is left out of the shares */
export function profileReport(dir: string, top = 12): string {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) return `no CPU profiles were written in ${dir}`;
  const parts: string[] = [];
  for (const file of files.sort()) {
    const entries = summariseProfile(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile).filter(
      (e) => e.name !== '(idle)',
    );
    const busy = entries.reduce((n, e) => n + e.selfMs, 0);
    if (busy < 50) continue; // a thread that did next to nothing
    const areas = new Map<string, number>();
    for (const e of entries) areas.set(e.area, (areas.get(e.area) ?? 0) + e.selfMs);
    const pct = (ms: number): string => `${((ms / busy) * 100).toFixed(1)}%`;
    parts.push(
      `#### ${file} (${(busy / 1000).toFixed(2)} s busy)\n\n` +
        markdownTable(
          ['area', 'share of busy time'],
          [...areas.entries()].sort((a, b) => b[1] - a[1]).map(([a, ms]) => [a, pct(ms)]),
        ) +
        '\n\n' +
        markdownTable(
          ['function', 'where', 'self'],
          entries.slice(0, top).map((e) => [e.name, e.where, pct(e.selfMs)]),
        ),
    );
  }
  return parts.join('\n\n');
}
