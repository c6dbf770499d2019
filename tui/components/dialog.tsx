// The line(s) above the footer while a dialog is open: filter input, weight
// input, algorithm picker, and the yes/no confirmation every action passes.
import { Box, Text } from 'ink';
import { ALGORITHMS } from '../../daemon/config/schema.js';
import type { Modal } from '../ui-state.js';

export function dialogLines(m: Modal): number {
  if (m.kind === 'algorithm') return ALGORITHMS.length + 3;
  if (m.kind === 'none' || m.kind === 'help') return 0;
  return m.kind === 'confirm' ? 3 : 1;
}

export function Dialog(props: { modal: Modal; width: number }) {
  const m = props.modal;
  switch (m.kind) {
    case 'none':
    case 'help':
      return null;
    case 'filter':
      return (
        <Text wrap="truncate">
          <Text color="cyan">filter: </Text>
          {m.text}
          <Text inverse> </Text>
          <Text dimColor> (enter keeps it, esc clears it)</Text>
        </Text>
      );
    case 'weight':
      return (
        <Text wrap="truncate">
          <Text color="cyan">{`weight for ${m.backend} (1..256): `}</Text>
          {m.text}
          <Text inverse> </Text>
          {m.error ? <Text color="red">{`  ${m.error}`}</Text> : <Text dimColor> (enter, esc cancels)</Text>}
        </Text>
      );
    case 'algorithm':
      return (
        <Box
          flexDirection="column"
          borderStyle="single"
          borderColor="cyan"
          paddingX={1}
          width={Math.min(props.width, 60)}
        >
          <Text bold>{`algorithm for pool ${m.pool} (enter picks, esc cancels)`}</Text>
          {ALGORITHMS.map((a, i) => (
            <Text key={a} inverse={i === m.index}>
              {`${i === m.index ? '>' : ' '} ${a}`}
            </Text>
          ))}
        </Box>
      );
    case 'confirm':
      return (
        <Box borderStyle="single" borderColor="yellow" paddingX={1} width={Math.min(props.width, 80)}>
          <Text wrap="truncate">
            <Text bold color="yellow">
              {m.action.question}
            </Text>
            <Text>{'  [y/N]  '}</Text>
            <Text dimColor>{m.action.label}</Text>
          </Text>
        </Box>
      );
  }
}
