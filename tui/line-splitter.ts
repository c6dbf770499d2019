// Splits a byte stream into lines. A line longer than the limit is dropped (and
// reported) rather than buffered without bound: a snapshot of a large daemon is
// big, but not unbounded.

export interface LineSplitter {
  push(chunk: Buffer): void;
  /** bytes held for an unfinished line */
  readonly pending: number;
}

export function createLineSplitter(
  onLine: (line: string) => void,
  onOversize: (bytes: number) => void,
  maxLineBytes: number,
): LineSplitter {
  let parts: Buffer[] = [];
  let held = 0;
  let skipping = false;

  return {
    push(chunk: Buffer): void {
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(0x0a, start);
        if (nl === -1) break;
        const piece = chunk.subarray(start, nl);
        if (skipping) {
          skipping = false;
        } else if (held + piece.length > maxLineBytes) {
          onOversize(held + piece.length);
        } else {
          const line = parts.length === 0 ? piece.toString('utf8') : Buffer.concat([...parts, piece]).toString('utf8');
          if (line.length > 0) onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
        }
        parts = [];
        held = 0;
        start = nl + 1;
      }
      if (start < chunk.length && !skipping) {
        const rest = chunk.subarray(start);
        if (held + rest.length > maxLineBytes) {
          onOversize(held + rest.length);
          parts = [];
          held = 0;
          skipping = true;
        } else {
          // copy: the socket may reuse the chunk's memory
          parts.push(Buffer.from(rest));
          held += rest.length;
        }
      }
    },
    get pending(): number {
      return held;
    },
  };
}
