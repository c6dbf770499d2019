// A line chart as a self-contained SVG: one line per series over a shared x
// axis, a y axis from 0 to `yMax`, and shaded spans (a phase of the run) behind
// the lines. For values over time, such as each algorithm's share per second.

interface LineSeries {
  name: string;
  /** [x, y] points in x order; a NaN y breaks the line */
  points: readonly (readonly [number, number])[];
}

export interface LineChart {
  title: string;
  note?: string;
  xLabel: string;
  yLabel: string;
  xMax: number;
  yMax: number;
  /** printed after each y tick, e.g. "%" */
  yUnit?: string;
  series: readonly LineSeries[];
  /** shaded x ranges with a label */
  spans?: readonly { from: number; to: number; label: string }[];
  /** a dashed horizontal line, e.g. the even share */
  reference?: { y: number; label: string };
}

const PALETTE = ['#3b6ea8', '#d9822b', '#3f9c5a', '#b8474c', '#7d5ba6', '#8c6d46', '#c25b9d', '#6f7f8f'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function renderLines(c: LineChart): string {
  const width = 760;
  const left = 56;
  const right = 16;
  const plotW = width - left - right;
  const plotH = 300;
  let top = c.note ? 52 : 36;
  // the legend wraps onto as many rows as it needs
  const legend: string[] = [];
  let lx = 10;
  c.series.forEach((s, i) => {
    const w = 34 + s.name.length * 7;
    if (lx > 10 && lx + w > width - 10) {
      lx = 10;
      top += 18;
    }
    const color = PALETTE[i % PALETTE.length]!;
    legend.push(`<path d="M${lx} ${top + 6}h20" stroke="${color}" stroke-width="2"/>`);
    legend.push(`<text x="${lx + 24}" y="${top + 10}">${esc(s.name)}</text>`);
    lx += w;
  });
  top += 30;
  const x = (v: number): number => left + (Math.max(0, Math.min(v, c.xMax)) / c.xMax) * plotW;
  const y = (v: number): number => top + plotH - (Math.max(0, Math.min(v, c.yMax)) / c.yMax) * plotH;
  const out: string[] = [];
  for (const s of c.spans ?? []) {
    out.push(
      `<rect x="${x(s.from).toFixed(1)}" y="${top}" width="${(x(s.to) - x(s.from)).toFixed(1)}" height="${plotH}" fill="#f3e3c3"/>`,
      `<text x="${((x(s.from) + x(s.to)) / 2).toFixed(1)}" y="${top + 14}" text-anchor="middle" fill="#8a6420">${esc(s.label)}</text>`,
    );
  }
  for (let i = 0; i <= 4; i++) {
    const v = (c.yMax * i) / 4;
    out.push(
      `<path d="M${left} ${y(v).toFixed(1)}H${left + plotW}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${+v.toPrecision(3)}${esc(c.yUnit ?? '')}</text>`,
    );
  }
  const step = c.xMax > 60 ? 10 : 5;
  for (let v = 0; v <= c.xMax; v += step) {
    out.push(`<text x="${x(v).toFixed(1)}" y="${top + plotH + 16}" text-anchor="middle">${v}</text>`);
  }
  out.push(
    `<path d="M${left} ${top}V${top + plotH}H${left + plotW}" stroke="#222" fill="none"/>`,
    `<text x="${left + plotW / 2}" y="${top + plotH + 34}" text-anchor="middle">${esc(c.xLabel)}</text>`,
    `<text x="14" y="${top + plotH / 2}" text-anchor="middle" transform="rotate(-90 14 ${top + plotH / 2})">${esc(c.yLabel)}</text>`,
  );
  if (c.reference) {
    const ry = y(c.reference.y).toFixed(1);
    out.push(
      `<path d="M${left} ${ry}H${left + plotW}" stroke="#555" stroke-dasharray="4 4"/>`,
      `<text x="${left + plotW - 4}" y="${Number(ry) - 4}" text-anchor="end" fill="#555">${esc(c.reference.label)}</text>`,
    );
  }
  c.series.forEach((s, i) => {
    let d = '';
    let pen = false;
    for (const [px, py] of s.points) {
      if (!Number.isFinite(py)) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${x(px).toFixed(1)} ${y(py).toFixed(1)}`;
      pen = true;
    }
    if (d) out.push(`<path d="${d}" fill="none" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="1.6"/>`);
  });
  const height = top + plotH + 46;
  return (
    [
      `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
      `<rect width="100%" height="100%" fill="#fff"/>`,
      `<text x="10" y="22" font-size="16" font-weight="bold">${esc(c.title)}</text>`,
      c.note ? `<text x="10" y="42" fill="#555">${esc(c.note)}</text>` : '',
      ...legend,
      ...out,
      '</svg>',
    ]
      .filter((l) => l !== '')
      .join('\n') + '\n'
  );
}
