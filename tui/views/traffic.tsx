// Traffic: protocol mix per listener, the clients with the most connections
// (`show clients`), and each pool's algorithm with its adaptive switches.
import { Box, Text } from 'ink';
import { clock, compact } from '../format.js';
import type { DashboardState } from '../reducer.js';

function bar(share: number, width: number): string {
  const n = Math.round(Math.max(0, Math.min(1, share)) * width);
  return '█'.repeat(n) + '·'.repeat(width - n);
}

export function Traffic(props: { data: DashboardState; width: number; height: number }) {
  const { data, width } = props;
  const s = data.snapshot;
  if (!s) return <Text dimColor>waiting for data...</Text>;
  const half = width >= 100;
  const barWidth = Math.max(8, Math.min(30, Math.floor((half ? width / 2 : width) - 34)));
  const protocols = s.listeners.map((l) => {
    const total = Object.values(l.protocols).reduce((x, y) => x + y, 0);
    const entries = Object.entries(l.protocols).filter(([, n]) => n > 0);
    return { l, total, entries: entries.sort((a, b) => b[1] - a[1]) };
  });
  const clients = data.clients ?? [];
  const clientRows = Math.max(1, Math.min(clients.length, Math.floor(props.height / 3)));
  const left = (
    <Box flexDirection="column" width={half ? Math.floor(width / 2) : width}>
      <Text bold>protocol mix (connections since start)</Text>
      {protocols.map(({ l, total, entries }) => (
        <Box key={l.name} flexDirection="column">
          <Text wrap="truncate">{`listener ${l.name} (${compact(total)})`}</Text>
          {entries.length === 0 ? (
            <Text dimColor wrap="truncate">
              {' none detected (sniffing off, or no traffic yet)'}
            </Text>
          ) : null}
          {entries.slice(0, 4).map(([p, n]) => (
            <Text key={p} wrap="truncate">
              {`  ${p.padEnd(10)} `}
              <Text color="cyan">{bar(total ? n / total : 0, barWidth)}</Text>
              {` ${String(Math.round((n / (total || 1)) * 100)).padStart(3)}% ${compact(n)}`}
            </Text>
          ))}
        </Box>
      ))}
      <Text bold>top clients by connections</Text>
      {data.clientsError ? <Text color="red">{data.clientsError}</Text> : null}
      {data.clients === null && !data.clientsError ? <Text dimColor>asking the daemon...</Text> : null}
      {data.clients !== null && clients.length === 0 ? <Text dimColor> none recorded</Text> : null}
      {clients.slice(0, clientRows).map((c) => (
        <Text key={c.address} wrap="truncate">
          {`  ${c.address.padEnd(24).slice(0, 40)} conns ${compact(c.connections).padStart(5)} active ${compact(c.active).padStart(4)}`}
          {c.rejected > 0 ? <Text color="red">{` rejected ${compact(c.rejected)}`}</Text> : null}
        </Text>
      ))}
    </Box>
  );
  const right = (
    <Box flexDirection="column" width={half ? width - Math.floor(width / 2) : width}>
      <Text bold>algorithms</Text>
      {s.pools.map((p) => (
        <Box key={p.name} flexDirection="column">
          <Text wrap="truncate">
            {`  pool ${p.name.padEnd(12)} ${p.algorithm}`}
            {p.activeAlgorithm !== p.algorithm ? <Text color="cyan">{` using ${p.activeAlgorithm}`}</Text> : null}
            {`  switches ${p.adaptiveSwitches}`}
          </Text>
          {p.adaptiveReason !== null ? <Text wrap="truncate" dimColor>{`    because ${p.adaptiveReason}`}</Text> : null}
        </Box>
      ))}
      <Text bold>adaptive switches</Text>
      {data.switches.length === 0 ? <Text dimColor> none since the dashboard attached</Text> : null}
      {data.switches
        .slice(-5)
        .reverse()
        .map((w, i) => (
          <Text key={i} wrap="truncate">
            {`  ${clock(w.time)} ${w.pool}: ${w.from} -> ${w.to} (${w.reason})`}
          </Text>
        ))}
    </Box>
  );
  return (
    <Box flexDirection={half ? 'row' : 'column'} width={width} height={props.height} overflow="hidden">
      {left}
      {right}
    </Box>
  );
}
