// Top of every view: who the dashboard is attached to, the instance's health
// (what routing tools are told: healthy, lame duck, draining, unhealthy, with the
// reasons on a line of their own), the alert badge, the view tabs, and a banner
// while the daemon is out of reach.
import { Box, Text } from 'ink';
import { clock, duration } from '../format.js';
import { healthView, type HealthView } from '../health.js';
import { VIEW_TITLES, VIEWS, type ViewName } from '../keys.js';
import type { DashboardState } from '../reducer.js';

function firingCount(data: DashboardState): number {
  return data.snapshot?.alerts.filter((a) => a.state === 'firing').length ?? 0;
}

/** The health shown: only while attached (a lost daemon's last health is stale, and the banner says so). */
function shownHealth(data: DashboardState, now: number): HealthView | null {
  return data.connection.status === 'connected' && data.snapshot ? healthView(data.snapshot, now) : null;
}

export function Header(props: { data: DashboardState; view: ViewName; width: number; readOnly: boolean; now: number }) {
  const { data, view } = props;
  const s = data.snapshot;
  const health = shownHealth(data, props.now);
  const who = s
    ? `pid ${s.info.pid} v${s.info.version} up ${duration(s.info.uptimeSeconds)} gen ${s.info.generation} workers ${s.info.workers}`
    : 'waiting for the first snapshot';
  const firing = firingCount(data);
  const c = data.connection;
  let banner: { text: string; color: string } | null = null;
  if (c.status === 'lost') {
    const retry =
      c.retryInMs === null ? '' : ` reconnecting in ${(c.retryInMs / 1000).toFixed(1)}s (attempt ${c.attempts}),`;
    banner = { text: ` DAEMON LOST:${retry} since ${clock(c.since)}: ${c.error ?? ''} `, color: 'red' };
  } else if (c.status === 'failed') {
    banner = { text: ` SUBSCRIPTION REFUSED: ${c.error ?? ''} `, color: 'red' };
  } else if (c.status === 'connecting') {
    banner = { text: ` connecting to ${data.socket} ... `, color: 'yellow' };
  } else if (c.connects > 1 && props.now - c.since < 5000) {
    banner = { text: ` reconnected at ${clock(c.since)} `, color: 'green' };
  }
  return (
    <Box flexDirection="column" width={props.width}>
      <Box>
        <Text wrap="truncate">
          <Text bold>netmon top</Text>
          <Text> {data.socket} </Text>
          <Text dimColor>{who}</Text>
          {props.readOnly ? <Text color="yellow"> [read-only]</Text> : null}
        </Text>
        <Box flexGrow={1} />
        {health ? (
          <Text color={health.color} bold={!health.healthy} inverse={!health.healthy}>
            {` ${health.badge} `}
          </Text>
        ) : null}
        <Text> </Text>
        <Text color={firing > 0 ? 'red' : 'green'} bold={firing > 0} inverse={firing > 0}>
          {` alerts ${firing} `}
        </Text>
      </Box>
      <Text wrap="truncate">
        {VIEWS.map((v, i) => (
          <Text key={v} inverse={v === view} bold={v === view}>
            {` ${i + 1} ${VIEW_TITLES[v]} `}
          </Text>
        ))}
      </Text>
      {health?.detail ? (
        <Text wrap="truncate" color={health.color}>
          {` ${health.detail}`}
        </Text>
      ) : null}
      {banner ? (
        <Text wrap="truncate" color="white" backgroundColor={banner.color}>
          {banner.text}
        </Text>
      ) : null}
    </Box>
  );
}

/** Lines the header adds below the tabs: the health reasons, the connection banner. */
export function bannerLines(data: DashboardState, now: number): number {
  const c = data.connection;
  const banner = c.status !== 'connected' || (c.connects > 1 && now - c.since < 5000) ? 1 : 0;
  return banner + (shownHealth(data, now)?.detail ? 1 : 0);
}
