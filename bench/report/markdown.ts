// A markdown table from a header row and cells; columns padded so the file
// reads well as plain text too. Pipes in cells are escaped.

export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const all = [header, ...rows].map((r) => header.map((_, i) => esc(r[i] ?? '')));
  const width = header.map((_, i) => Math.max(3, ...all.map((r) => r[i]!.length)));
  const line = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(width[i]!)).join(' | ')} |`;
  return [line(all[0]!), `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...all.slice(1).map(line)].join('\n');
}
