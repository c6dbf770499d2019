// Overview: listeners, pools and backends in one table, windowed to the
// terminal's height and as many columns as its width holds.
import { Box, Text } from 'ink';
import type { DashboardState } from '../reducer.js';
import { displayState, type Row, type Sort } from '../rows.js';
import { Line, type Segment } from '../components/segments.js';
import { cellText, layoutColumns } from './columns.js';
import { windowAround } from './window.js';

const SORT_TO_COLUMN: Record<string, string> = {
  name: 'name',
  state: 'state',
  active: 'active',
  'conn/s': 'conn',
  'in/s': 'in',
  'out/s': 'out',
  'fb p95': 'fb95',
  'err/s': 'err',
};

export function Overview(props: {
  data: DashboardState;
  rows: readonly Row[];
  cursor: number;
  width: number;
  height: number;
  sort: Sort;
  filter: string;
}) {
  const { rows, width } = props;
  const { columns, widths } = layoutColumns(width);
  const sortId = SORT_TO_COLUMN[props.sort.column];
  const head: Segment[] = [];
  columns.forEach((c, i) => {
    const mark = c.id === sortId || (sortId === 'fb95' && c.id === 'fb') ? (props.sort.descending ? '▼' : '▲') : '';
    head.push({ text: (i ? ' ' : '') + cellTitle(c.title + mark, widths[i]!, c.align), bold: true });
  });
  // the table head, and a position line when the rows do not all fit
  const bodyHeight = Math.max(1, props.height - (rows.length <= props.height - 1 ? 1 : 2));
  const win = windowAround(props.cursor, rows.length, bodyHeight);
  const shown = rows.slice(win.start, win.end);
  return (
    <Box flexDirection="column" width={width} height={props.height}>
      <Line segments={head} width={width} />
      {rows.length === 0 ? (
        <Text dimColor>
          {props.data.snapshot ? `nothing matches the filter "${props.filter}"` : 'waiting for data...'}
        </Text>
      ) : null}
      {shown.map((r, k) => {
        const segs: Segment[] = [];
        const series = r.kind === 'backend' ? props.data.backendSeries[r.backend.key] : undefined;
        columns.forEach((c, i) => {
          if (i) segs.push({ text: ' ' });
          segs.push(cellText(c.cell(r, { series, width: widths[i]! }), widths[i]!, c.align));
        });
        // a backend that is down shows red across the whole row
        const down = r.kind === 'backend' && displayState(r.backend) === 'down';
        return (
          <Line
            key={r.id}
            segments={segs}
            width={width}
            inverse={win.start + k === props.cursor}
            color={down ? 'red' : undefined}
          />
        );
      })}
      {rows.length > bodyHeight ? <Text dimColor>{`rows ${win.start + 1}-${win.end} of ${rows.length}`}</Text> : null}
    </Box>
  );
}

function cellTitle(t: string, w: number, align: 'left' | 'right'): string {
  const s = t.length > w ? t.slice(0, w) : t;
  return align === 'right' ? s.padStart(w) : s.padEnd(w);
}
