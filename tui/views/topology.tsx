// Topology: listeners -> pools -> backends as a tree, the traffic rate on each
// edge and the health colour on each node; a pool says where its backends come
// from (discovery sources) and when each last refreshed.
import { Box, Text } from 'ink';
import { bytes, compact, ms } from '../format.js';
import type { PoolSnapshot, Rates } from '../../daemon/control/snapshot/snapshot.js';
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

/** "  <- dns app.internal:8080 ok 3 (1.2s ago)" per discovery source; red while it fails. */
function sources(p: PoolSnapshot, now: number): Segment[] {
  return p.discovery.map((d) => {
    const ago =
      d.lastRefresh === null
        ? 'never'
        : `${d.kind === 'etcd' && d.state === 'ok' ? 'watching, last event ' : ''}${ms(Math.max(1, now - d.lastRefresh))} ago`;
    const bad = d.state === 'failing' || d.state === 'expired';
    return {
      text: `  <- ${d.source} ${d.state} ${d.backends} (${ago})`,
      color: bad ? 'red' : d.state === 'pending' ? 'yellow' : undefined,
      dim: !bad && d.state !== 'pending',
    };
  });
}

function rowSegments(rows: readonly Row[], i: number, now: number): Segment[] {
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
        ...sources(p, now),
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

export function Topology(props: {
  rows: readonly Row[];
  cursor: number;
  width: number;
  height: number;
  /** the snapshot's time, ms since epoch: refresh ages are counted from it */
  now: number;
}) {
  const { rows } = props;
  const win = windowAround(props.cursor, rows.length, props.height);
  const out = [];
  for (let i = win.start; i < win.end; i++) {
    out.push(
      <Line
        key={rows[i]!.id}
        segments={rowSegments(rows, i, props.now)}
        width={props.width}
        inverse={i === props.cursor}
      />,
    );
  }
  return (
    <Box flexDirection="column" width={props.width} height={props.height}>
      {rows.length === 0 ? <Text dimColor>waiting for data...</Text> : out}
    </Box>
  );
}
