// Topology: listeners -> pools -> backends as a tree, the traffic rate on each
// edge and the health colour on each node.
import { Box, Text } from 'ink';
import { bytes, compact } from '../format.js';
import type { Rates } from '../../daemon/control/snapshot/snapshot.js';
import { displayState, type Row } from '../rows.js';
import { Line, STATE_COLORS, type Segment } from '../components/segments.js';
import { windowAround } from './window.js';

function edge(r: Rates): string {
  return `─[${compact(r.connections)} c/s ${bytes(r.bytesIn)}/s]─▶ `;
}

function isLastChild(rows: readonly Row[], i: number): boolean {
  const d = rows[i]!.depth;
  for (let j = i + 1; j < rows.length; j++) {
    if (rows[j]!.depth < d) return true;
    if (rows[j]!.depth === d) return false;
  }
  return true;
}

function rowSegments(rows: readonly Row[], i: number): Segment[] {
  const r = rows[i]!;
  const indent = r.depth === 0 ? '' : '    '.repeat(r.depth - 1) + (isLastChild(rows, i) ? '└' : '├');
  switch (r.kind) {
    case 'listener': {
      const l = r.listener;
      return [
        { text: `listener ${l.name}`, bold: true },
        { text: ` ${l.bind} ` },
        l.enabled ? { text: 'open', color: 'green' } : { text: 'disabled', color: 'yellow' },
        { text: `  active ${l.active}  ${compact(l.rates.connections)} c/s` },
      ];
    }
    case 'pool': {
      const p = r.pool;
      const color = p.up === 0 ? 'red' : p.up < p.total ? 'yellow' : 'green';
      const algo = p.activeAlgorithm !== p.algorithm ? `${p.algorithm}:${p.activeAlgorithm}` : p.algorithm;
      return [
        { text: indent + (r.depth > 0 ? edge(p.rates) : '') },
        { text: `pool ${p.name}`, bold: true },
        { text: ` ${algo} ` },
        { text: `${p.up}/${p.total} up`, color },
        p.queued > 0 ? { text: `  queued ${p.queued}`, color: 'yellow' } : { text: '' },
      ];
    }
    case 'backend': {
      const b = r.backend;
      const s = displayState(b);
      return [
        {
          text: indent + edge(b.rates),
          color: b.rates.connections > 0 ? 'cyan' : undefined,
          dim: b.rates.connections <= 0,
        },
        { text: b.name, bold: true, color: STATE_COLORS[s] },
        { text: ` ${b.address} ` },
        { text: s, color: STATE_COLORS[s] },
        { text: `  act ${b.active}` + (b.rates.errors > 0 ? `  ${compact(b.rates.errors)} err/s` : '') },
      ];
    }
  }
}

export function Topology(props: { rows: readonly Row[]; cursor: number; width: number; height: number }) {
  const { rows } = props;
  const win = windowAround(props.cursor, rows.length, props.height);
  const out = [];
  for (let i = win.start; i < win.end; i++) {
    out.push(
      <Line key={rows[i]!.id} segments={rowSegments(rows, i)} width={props.width} inverse={i === props.cursor} />,
    );
  }
  return (
    <Box flexDirection="column" width={props.width} height={props.height}>
      {rows.length === 0 ? <Text dimColor>waiting for data...</Text> : out}
    </Box>
  );
}
