// One backend in depth: its state and why, its history of state changes and
// check results, and sparklines of its rates and latencies.
import { Box, Text } from 'ink';
import { bytes, clock, compact, ms, percent, sparkline } from '../format.js';
import type { DashboardState } from '../reducer.js';
import { displayState } from '../rows.js';
import { STATE_COLORS } from '../components/segments.js';

const LABEL = 16;
const VALUE = 18;

function Chart(props: { label: string; values: readonly number[]; last: string; width: number; color: string }) {
  const w = Math.max(4, props.width - LABEL - VALUE - 2);
  return (
    <Text wrap="truncate">
      {props.label.padEnd(LABEL)}
      <Text color={props.color}>{sparkline(props.values, w)}</Text>
      {' ' + props.last.padStart(VALUE)}
    </Text>
  );
}

export function Detail(props: { data: DashboardState; backend: string | null; width: number; height: number }) {
  const { data, width } = props;
  const b = data.snapshot?.backends.find((x) => x.key === props.backend);
  if (!props.backend || !b) {
    return (
      <Box height={props.height}>
        <Text dimColor>
          {props.backend
            ? `${props.backend} is not in the current config`
            : 'select a backend in the overview and press enter'}
        </Text>
      </Box>
    );
  }
  const s = displayState(b);
  const series = data.backendSeries[b.key];
  const changes = data.stateChanges.filter((c) => c.backend === b.key);
  const checks = data.checks[b.key] ?? [];
  const charts = 6;
  const fixed = 4 + charts + 2;
  const listRoom = Math.max(0, props.height - fixed);
  // the two lists share what the header and charts leave, each with a title line
  const nChanges = Math.min(changes.length, Math.max(1, Math.floor((listRoom - 2) / 2)));
  const checkRoom = listRoom - 1 - Math.max(1, nChanges);
  const nChecks = Math.min(checks.length, Math.max(0, checkRoom - 1));
  const e = b.connectErrors;
  return (
    <Box flexDirection="column" width={width} height={props.height}>
      <Text wrap="truncate">
        <Text bold>{b.key}</Text>
        {` ${b.address}  `}
        <Text color={STATE_COLORS[s]} bold>
          {s}
        </Text>
        {`  admin ${b.admin}, health ${b.op}, by ${b.cause} at ${clock(b.lastChange)}  weight ${b.effectiveWeight}/${b.weight} eff/cfg${b.backup ? '  backup' : ''}${b.removed ? '  REMOVED' : ''}`}
      </Text>
      <Text wrap="truncate">
        {`active ${b.active}${b.maxConnections ? `/${b.maxConnections}` : ''}  total ${b.connections}  in ${bytes(b.bytesIn)}  out ${bytes(b.bytesOut)}  errors refused ${e.refused} timeout ${e.timeout} other ${e.other}  retries ${b.retries}  passive ${b.passiveFailures}`}
      </Text>
      <Text wrap="truncate">
        {`check ${b.check.type}: `}
        <Text color={b.check.result === 'ok' ? 'green' : b.check.result === 'failed' ? 'red' : undefined}>
          {b.check.result}
        </Text>
        {` ${ms(b.check.durationMs)}${b.check.detail ? ` (${b.check.detail})` : ''}${b.check.time ? ` at ${clock(b.check.time)}` : ''}  agent cpu ${percent(b.agent.cpu)} mem ${percent(b.agent.memory)} conns ${b.agent.connections ?? '-'}`}
      </Text>
      <Text> </Text>
      <Chart
        label="connections/s"
        values={series?.connections ?? []}
        last={compact(b.rates.connections)}
        width={width}
        color="cyan"
      />
      <Chart
        label="bytes in/s"
        values={series?.bytesIn ?? []}
        last={bytes(b.rates.bytesIn)}
        width={width}
        color="green"
      />
      <Chart
        label="bytes out/s"
        values={series?.bytesOut ?? []}
        last={bytes(b.rates.bytesOut)}
        width={width}
        color="green"
      />
      <Chart label="errors/s" values={series?.errors ?? []} last={compact(b.rates.errors)} width={width} color="red" />
      <Chart
        label="connect p95"
        values={series?.connectP95 ?? []}
        last={ms(b.connectMs.p95)}
        width={width}
        color="yellow"
      />
      <Chart
        label="1st byte p95"
        values={series?.firstByteP95 ?? []}
        last={`${ms(b.firstByteMs.p50)}/${ms(b.firstByteMs.p95)}/${ms(b.firstByteMs.p99)}`}
        width={width}
        color="yellow"
      />
      <Text bold>{`state changes (${changes.length})`}</Text>
      {changes.length === 0 ? <Text dimColor>none since the dashboard attached</Text> : null}
      {changes.slice(-nChanges).map((c, i) => (
        <Text key={`c${i}`} wrap="truncate">
          {`${clock(c.time)} ${c.from} -> `}
          <Text color={c.to.includes('down') ? 'red' : c.to.includes('up') || c.to === 'ready' ? 'green' : 'yellow'}>
            {c.to}
          </Text>
          {`  ${c.cause}${c.detail ? `: ${c.detail}` : ''}`}
        </Text>
      ))}
      {checkRoom >= 1 ? <Text bold>{`checks (${checks.length} since attached)`}</Text> : null}
      {nChecks > 0
        ? checks.slice(-nChecks).map((c, i) => (
            <Text key={`k${i}`} wrap="truncate" color={c.result === 'ok' ? 'green' : 'red'}>
              {`${clock(c.time)} ${c.result} ${ms(c.durationMs)}${c.detail ? ` ${c.detail}` : ''}`}
            </Text>
          ))
        : null}
    </Box>
  );
}
