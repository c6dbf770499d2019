// One terminal line made of coloured pieces, cut to the width it is given so
// that a table row never wraps and breaks the layout.
import { Text } from 'ink';
import type { DisplayStateName } from '../../daemon/state/names.js';

export interface Segment {
  text: string;
  color?: string;
  bold?: boolean;
  dim?: boolean;
}

export const STATE_COLORS: Record<DisplayStateName, string> = {
  up: 'green',
  down: 'red',
  drain: 'yellow',
  maint: 'blue',
  starting: 'cyan',
};

export function Line(props: { segments: Segment[]; width: number; inverse?: boolean; color?: string }) {
  let left = props.width;
  const shown: Segment[] = [];
  for (const s of props.segments) {
    if (left <= 0) break;
    const text = s.text.length > left ? s.text.slice(0, left) : s.text;
    shown.push({ ...s, text });
    left -= text.length;
  }
  return (
    <Text wrap="truncate" inverse={props.inverse ?? false} color={props.color}>
      {shown.map((s, i) => (
        <Text key={i} color={props.color ?? s.color} bold={s.bold ?? false} dimColor={s.dim ?? false}>
          {s.text}
        </Text>
      ))}
    </Text>
  );
}
