// Control socket framing: bytes in, request lines out. A line ends with LF (a
// CR before it is dropped); blank lines, and the blanks before a line, are
// skipped here, so a flood of empty lines costs one scan of its bytes and no
// allocation per line; a line longer than the limit stops the framer. Complete lines wait in a FIFO
// whose push and shift are O(1) however many lines one chunk holds.

const LF = 0x0a;
const CR = 0x0d;

/** A FIFO of lines: an array read from a moving head, compacted when the head passes half of it. */
export class LineQueue {
  private items: Buffer[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(line: Buffer): void {
    this.items.push(line);
  }

  /** The oldest line, or undefined when empty. */
  shift(): Buffer | undefined {
    if (this.head >= this.items.length) return undefined;
    const line = this.items[this.head]!;
    this.items[this.head++] = EMPTY; // let the bytes go
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return line;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

const EMPTY = Buffer.alloc(0);

/** Space, tab, LF, VT, FF, CR: what a blank line is made of. */
function isBlankByte(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** A line over the limit: its first bytes (up to 64) tell whether the client speaks JSON. */
export interface LineTooLong {
  head: Buffer;
}

export class LineFramer {
  private readonly partial: Buffer[] = [];
  private partialBytes = 0;

  /** @param maxLineBytes longest line, in bytes without its LF */
  constructor(private readonly maxLineBytes: number) {}

  /** Bytes of the line begun but not yet ended by LF. */
  get pendingBytes(): number {
    return this.partialBytes;
  }

  /**
   * Adds the complete, non-blank lines in `chunk` to `out` (without LF or a CR
   * before it) and keeps the rest. Returns null, or the line that went over
   * the limit: the framer is then spent (the connection closes).
   */
  push(chunk: Buffer, out: LineQueue): LineTooLong | null {
    const n = chunk.length;
    let start = 0;
    while (start < n) {
      if (this.partialBytes === 0) {
        // blank lines, and the blanks a line starts with, are answered by nothing:
        // step over them byte by byte, without making a line of them
        while (start < n && isBlankByte(chunk[start]!)) start++;
        if (start === n) break;
      }
      const nl = chunk.indexOf(LF, start);
      if (nl === -1) {
        const rest = chunk.subarray(start);
        if (this.partialBytes + rest.length > this.maxLineBytes) return this.tooLong(rest);
        this.partial.push(rest);
        this.partialBytes += rest.length;
        break;
      }
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.partialBytes + piece.length > this.maxLineBytes) return this.tooLong(piece);
      const line = this.partialBytes === 0 ? piece : Buffer.concat([...this.partial, piece]);
      this.partial.length = 0;
      this.partialBytes = 0;
      out.push(line[line.length - 1] === CR ? line.subarray(0, line.length - 1) : line);
    }
    return null;
  }

  /** The input ended: a last line without its LF still counts (`printf 'show info' | socat ...`). */
  end(out: LineQueue): void {
    if (this.partialBytes === 0) return;
    const line = Buffer.concat(this.partial);
    this.partial.length = 0;
    this.partialBytes = 0;
    out.push(line[line.length - 1] === CR ? line.subarray(0, line.length - 1) : line);
  }

  private tooLong(piece: Buffer): LineTooLong {
    const first = this.partialBytes > 0 ? this.partial[0]! : piece;
    this.partial.length = 0;
    this.partialBytes = 0;
    return { head: first.subarray(0, 64) };
  }
}
