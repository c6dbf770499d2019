// Alerts: the firing and pending ones, then what fired and resolved recently,
// each with its time and reason.
import { Box, Text } from 'ink';
import type { AlertSnapshot } from '../../daemon/control/snapshot/snapshot.js';
import { clock } from '../format.js';
import type { DashboardState } from '../reducer.js';

const STATE_COLOR: Record<AlertSnapshot['state'], string> = { firing: 'red', pending: 'yellow', resolved: 'green' };

function AlertLine(props: { a: AlertSnapshot; time: number }) {
  const a = props.a;
  return (
    <Text wrap="truncate">
      {`${clock(props.time)} `}
      <Text color={STATE_COLOR[a.state]} bold={a.state === 'firing'}>
        {a.state.padEnd(9)}
      </Text>
      <Text color={a.severity === 'critical' ? 'red' : 'yellow'}>{a.severity.padEnd(9)}</Text>
      {`${a.name.padEnd(18)} ${a.subject.padEnd(14)} ${a.message}`}
    </Text>
  );
}

export function Alerts(props: { data: DashboardState; width: number; height: number }) {
  const alerts = props.data.snapshot?.alerts ?? [];
  const active = alerts.filter((a) => a.state !== 'resolved');
  // recent: resolved ones the daemon still lists, then transitions seen on the stream
  const recent = [...alerts.filter((a) => a.state === 'resolved'), ...props.data.alertLog.slice().reverse()];
  const room = Math.max(0, props.height - 3 - Math.max(1, active.length));
  return (
    <Box flexDirection="column" width={props.width} height={props.height}>
      <Text bold>{`firing and pending (${active.length})`}</Text>
      {active.length === 0 ? <Text color="green">no alerts</Text> : null}
      {active.map((a) => (
        <AlertLine key={`${a.name}:${a.subject}`} a={a} time={a.firedAt ?? a.since} />
      ))}
      <Text> </Text>
      <Text bold>{`recent: resolved, and changes seen since attached (${recent.length})`}</Text>
      {recent.length === 0 ? <Text dimColor>nothing resolved or fired since the dashboard attached</Text> : null}
      {recent.slice(0, room).map((a, i) => (
        <AlertLine key={i} a={a} time={a.resolvedAt ?? a.firedAt ?? a.since} />
      ))}
    </Box>
  );
}
