// `?`: every key the dashboard answers, read from the key table.
import { Box, Text } from 'ink';
import { visibleKeys } from '../keys.js';

export function HelpOverlay(props: { readOnly: boolean; width: number }) {
  const keys = visibleKeys(props.readOnly);
  const w = Math.max(...keys.map((k) => k.keys.length));
  return (
    <Box flexDirection="column" borderStyle="round" borderColor="cyan" paddingX={1} width={Math.min(props.width, 100)}>
      <Text bold>Keys{props.readOnly ? ' (read-only: actions are hidden)' : ''}</Text>
      {keys.map((k) => (
        <Text key={k.keys} wrap="truncate">
          <Text color="cyan">{k.keys.padEnd(w)}</Text>
          {'  ' + k.help}
        </Text>
      ))}
      <Text dimColor>any key closes this help</Text>
    </Box>
  );
}
