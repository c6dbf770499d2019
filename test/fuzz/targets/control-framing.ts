// The control connection's framing (LineFramer, LineQueue): bytes to request
// lines. Invariants, against a statement of the rules written apart: a line
// ends at LF, a CR before the LF is dropped, blank lines and the blanks a line
// starts with are skipped, a last line without LF counts when the input ends,
// and a line longer than the limit stops the framer exactly where it goes over;
// the lines are the same however the bytes are cut into chunks and however
// often the queue is read in between.
import { LineFramer, LineQueue } from '../../../daemon/control/socket/line-framer.js';
import { Rng } from '../rng.js';
import { tokens } from '../mutate.js';
import { oracle } from '../oracle.js';
import { show, type FuzzTarget } from '../target.js';

interface Framed {
  lines: string[];
  /** the framer stopped on a line over the limit */
  tooLong: boolean;
}

const isBlank = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);

/** The rules, byte by byte. */
function reference(input: Buffer, max: number): Framed {
  const lines: string[] = [];
  let i = 0;
  while (i < input.length) {
    while (i < input.length && isBlank(input[i]!)) i++;
    if (i === input.length) break;
    const nl = input.indexOf(0x0a, i);
    const end = nl === -1 ? input.length : nl;
    if (end - i > max) return { lines, tooLong: true };
    let line = input.subarray(i, end);
    if (line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    lines.push(line.toString('latin1'));
    i = nl === -1 ? input.length : nl + 1;
  }
  return { lines, tooLong: false };
}

/** The framer fed `chunks`, the queue read now and then as `reads` says. */
function frame(chunks: Buffer[], max: number, reads: Rng): Framed {
  const framer = new LineFramer(max);
  const q = new LineQueue();
  const lines: string[] = [];
  const drain = (n: number): void => {
    for (let k = 0; k < n; k++) {
      const l = q.shift();
      if (l === undefined) break;
      lines.push(l.toString('latin1'));
    }
  };
  for (const c of chunks) {
    const over = framer.push(c, q);
    drain(reads.int(4) === 0 ? 0 : reads.int(1 << reads.int(12)));
    if (over) {
      drain(Infinity);
      return { lines, tooLong: true };
    }
  }
  framer.end(q);
  drain(Infinity);
  if (q.length !== 0 || q.shift() !== undefined) throw new Error('the queue holds lines after draining');
  return { lines, tooLong: false };
}

/** A hash of the input's length and of up to 1024 of its bytes: seeds the cuts, so a saved input replays the same. */
function hash(b: Buffer): number {
  let h = Math.imul(0x811c9dc5 ^ b.length, 0x01000193);
  const step = Math.max(1, b.length >> 10);
  for (let i = 0; i < b.length; i += step) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

/** Cuts of the input, drawn from its hash: at random points, small or large. */
function randomCuts(input: Buffer, rng: Rng): Buffer[] {
  const c: Buffer[] = [];
  const small = rng.chance(0.5);
  for (let i = 0; i < input.length;) {
    const n = 1 + rng.int(Math.min(input.length - i, small ? 16 : 70_000));
    c.push(input.subarray(i, i + n));
    i += n;
  }
  return c;
}

/** Other cuts to compare with: whole, bytewise (short inputs), every 7 bytes (not long ones). */
function otherCuts(input: Buffer): Buffer[][] {
  const out: Buffer[][] = [[input]];
  if (input.length <= 512) out.push(Array.from(input, (_, i) => input.subarray(i, i + 1)));
  if (input.length <= 8192) {
    const c: Buffer[] = [];
    for (let i = 0; i < input.length; i += 7) c.push(input.subarray(i, i + 7));
    out.push(c);
  }
  return out;
}

function check(input: Buffer): string | null {
  const h = hash(input);
  // the small limit makes over-long lines common; the real one (64 KiB) is tried on one input in two
  const max = h & 1 ? 64 : 64 * 1024;
  const rng = new Rng(h);
  const got = frame(randomCuts(input, rng), max, rng);
  return oracle(() => {
    const want = reference(input, max);
    for (const [how, framed] of [
      ['random cuts', got],
      ...otherCuts(input).map((c): [string, Framed] => [`${c.length} chunks`, frame(c, max, rng)]),
    ] as [string, Framed][]) {
      if (show(framed) !== show(want)) {
        return `limit ${max}, ${how}: got ${framed.lines.length} lines${framed.tooLong ? ' then too long' : ''}, the rules give ${want.lines.length}${want.tooLong ? ' then too long' : ''}: ${show(framed).slice(0, 150)} vs ${show(want).slice(0, 150)}`;
      }
    }
    return null;
  });
}

function structured(rng: Rng): { input: Buffer } {
  const parts: string[] = [];
  for (let i = rng.size(100); i > 0; i--) {
    switch (rng.int(6)) {
      case 0:
        parts.push('\n'.repeat(rng.range(1, rng.chance(0.02) ? 70_000 : 20)));
        break;
      case 1:
        parts.push(rng.chars(rng.int(10), ' \t\r\v\f') + '\n');
        break;
      case 2:
        // around the small limit: 63, 64, 65 bytes
        parts.push('x'.repeat(rng.range(62, 66)) + rng.pick(['\n', '\r\n', '']));
        break;
      case 3:
        parts.push(
          rng.pick(['show info', '{"id":1,"cmd":"show-info"}', 'set weight web/b1 5']) +
            rng.pick(['\n', '\r\n', '\r\r\n']),
        );
        break;
      case 4:
        parts.push(rng.chars(rng.size(100), 'ab \t\r\n'));
        break;
      default:
        parts.push(rng.bytes(rng.size(30)).toString('latin1'));
    }
  }
  return { input: Buffer.from(parts.join(''), 'latin1') };
}

export const controlFramingTarget: FuzzTarget = {
  name: 'control-framing',
  title: 'control framing',
  maxLength: 70 * 1024,
  dictionary: tokens(['\n', '\r\n', '\r', ' ', '\t', '\n\n\n\n', 'x'.repeat(64), '{']),
  structured,
  check,
};
