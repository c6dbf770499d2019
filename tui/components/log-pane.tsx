// The last lines of the action log: every command the dashboard sent and the
// daemon's reply, plus the daemon's own events (as hatop echoes its commands).
import { Box, Text } from 'ink';
import { clock } from '../format.js';
import type { LogEntry } from '../reducer.js';

const MARK: Record<LogEntry['kind'], { mark: string; color: string | undefined }> = {
  action: { mark: '>', color: 'cyan' },
  reply: { mark: '<', color: 'green' },
  error: { mark: '!', color: 'red' },
  event: { mark: '*', color: undefined },
};

export function LogPane(props: { log: readonly LogEntry[]; lines: number; width: number }) {
  const shown = props.log.slice(-props.lines);
  return (
    <Box flexDirection="column" width={props.width}>
      <Text dimColor wrap="truncate">
        {'─ log ' + '─'.repeat(Math.max(0, props.width - 6))}
      </Text>
      {Array.from({ length: props.lines }, (_, i) => {
        const e = shown[i];
        if (!e) return <Text key={i}> </Text>;
        const m = MARK[e.kind];
        return (
          <Text key={i} wrap="truncate" color={m.color}>
            {`${clock(e.time)} ${m.mark} ${e.text.replace(/\n/g, ' | ')}`}
          </Text>
        );
      })}
    </Box>
  );
}
