// A grouped horizontal bar chart as a self-contained SVG: one group per metric,
// one bar per series (proxy or algorithm), values normalised per group so metrics
// of different units sit in one picture; each bar is labelled with its real value.

export interface ChartGroup {
  /** "keep-alive req/s (higher is better)" */
  label: string;
  /** series name -> value; missing or NaN values are drawn as "n/a" */
  values: Record<string, number>;
  /** printed after each value, e.g. " req/s" */
  unit?: string;
  /** error bars: series name -> [min, max] */
  range?: Record<string, [number, number]>;
}

export interface Chart {
  title: string;
  series: readonly string[];
  groups: readonly ChartGroup[];
  /** a line under the title */
  note?: string;
}

const PALETTE = ['#3b6ea8', '#d9822b', '#3f9c5a', '#b8474c', '#7d5ba6', '#8c6d46', '#c25b9d', '#6f7f8f'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  const a = Math.abs(v);
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  if (a >= 100) return String(Math.round(v));
  return String(+v.toPrecision(3));
}

export function renderSvg(c: Chart): string {
  const labelW = 150;
  const barW = 420;
  const valueW = 150;
  const barH = 16;
  const gap = 4;
  const groupGap = 18;
  const width = labelW + barW + valueW + 20;
  const out: string[] = [];
  let y = 34;
  if (c.note) y += 16;
  // the legend wraps onto as many rows as it needs
  const legend: string[] = [];
  let lx = 10;
  c.series.forEach((name, i) => {
    const w = 28 + name.length * 7;
    if (lx > 10 && lx + w > width - 10) {
      lx = 10;
      y += 18;
    }
    legend.push(`<rect x="${lx}" y="${y}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>`);
    legend.push(`<text x="${lx + 16}" y="${y + 11}">${esc(name)}</text>`);
    lx += w;
  });
  y += 24;
  const body: string[] = [];
  for (const g of c.groups) {
    body.push(`<text x="10" y="${y + 12}" font-weight="bold">${esc(g.label)}</text>`);
    y += 20;
    const finite = c.series.map((s) => g.values[s] ?? NaN).filter((v) => Number.isFinite(v));
    const maxRange = Object.values(g.range ?? {}).map((r) => r[1]);
    const max = Math.max(1e-12, ...finite, ...maxRange.filter((v) => Number.isFinite(v)));
    c.series.forEach((s, i) => {
      const v = g.values[s] ?? NaN;
      const w = Number.isFinite(v) ? Math.max(1, (v / max) * barW) : 0;
      body.push(`<text x="${labelW - 6}" y="${y + barH - 4}" text-anchor="end">${esc(s)}</text>`);
      if (w > 0)
        body.push(
          `<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${PALETTE[i % PALETTE.length]}"/>`,
        );
      const r = g.range?.[s];
      if (r && Number.isFinite(r[0]) && Number.isFinite(r[1])) {
        const x0 = labelW + (r[0] / max) * barW;
        const x1 = labelW + (r[1] / max) * barW;
        const mid = y + barH / 2;
        body.push(
          `<path d="M${x0.toFixed(1)} ${mid}H${x1.toFixed(1)}M${x0.toFixed(1)} ${mid - 4}V${mid + 4}M${x1.toFixed(1)} ${mid - 4}V${mid + 4}" stroke="#222" stroke-width="1"/>`,
        );
      }
      body.push(
        `<text x="${labelW + Math.max(w, r ? (r[1] / max) * barW : 0) + 6}" y="${y + barH - 4}">${esc(fmt(v) + (Number.isFinite(v) ? (g.unit ?? '') : ''))}</text>`,
      );
      y += barH + gap;
    });
    y += groupGap;
  }
  const height = y + 10;
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="22" font-size="16" font-weight="bold">${esc(c.title)}</text>`,
  );
  if (c.note) out.push(`<text x="10" y="42" fill="#555">${esc(c.note)}</text>`);
  out.push(...legend);
  out.push(...body, '</svg>');
  return out.join('\n') + '\n';
}
