// Server greetings: the first bytes a backend sends before the client sends
// any (sniffGreeting). Invariants: an answer is one of the greeting protocols or
// null; null (wait) only below the 512 bytes of a greeting line; a decision,
// once made, stays the same as more bytes arrive; a greeting built by the rules
// stated apart gets its protocol: an SSH identification string (RFC 4253 4.2),
// a `220 ` or `220-` reply (RFC 5321 4.2, RFC 959 4.2) that is SMTP when its
// first line names SMTP in any case, else FTP when it names FTP, else other,
// and a MySQL initial handshake (3-byte length 16..4096, sequence 0, protocol
// version 10, a printable server version ended by NUL); a 220 line cut before
// its LF waits.
import { sniffGreeting } from '../../../daemon/data/edge/sniff.js';
import { tokens } from '../mutate.js';
import type { Rng } from '../rng.js';
import { oracle } from '../oracle.js';
import { show, type FuzzTarget } from '../target.js';

type Greeting = ReturnType<typeof sniffGreeting>;

const ANSWERS = new Set<Greeting>(['ssh', 'smtp', 'ftp', 'mysql', 'other', null]);
/** a greeting line longer than this without its LF is decided on what came */
const MAX_LINE = 512;
const PRINTABLE = ' !#$%&()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_abcdefghijklmnopqrstuvwxyz{|}~';

/** What a 220 reply line (its bytes after `220 `, up to its LF or the line bound) says the server is. */
function named(text: string): Greeting {
  const upper = text.slice(0, MAX_LINE - 4).toUpperCase();
  if (upper.includes('SMTP')) return 'smtp';
  if (upper.includes('FTP')) return 'ftp';
  return 'other';
}

/** Mixed case, as servers spell it (`ESMTP`, `Microsoft FTP Service`, `smtp`). */
function anyCase(rng: Rng, word: string): string {
  return [...word].map((c) => (rng.chance(0.5) ? c.toLowerCase() : c)).join('');
}

function reply220(rng: Rng): { input: Buffer; expect: Greeting } {
  const words = [rng.chars(rng.range(1, 30), PRINTABLE)];
  // a long line: the name may come past the bound, where it no longer counts
  if (rng.chance(0.15)) words.push(rng.chars(rng.range(400, 600), PRINTABLE));
  const kind = rng.int(3);
  if (kind === 0) words.push(anyCase(rng, rng.pick(['ESMTP', 'SMTP', 'Smtp'])));
  if (kind === 1) words.push(anyCase(rng, rng.pick(['FTP', 'ProFTPD', 'vsFTPd'])));
  words.push(rng.chars(rng.size(40), PRINTABLE));
  const text = words.join(' ');
  const line = `220${rng.pick([' ', '-'])}${text}`;
  const expect = named(text);
  if (rng.chance(0.2)) {
    // cut before its LF: the server has not finished the line (past the bound, what came decides)
    const cut = rng.range(4, line.length);
    return { input: Buffer.from(line.slice(0, cut), 'latin1'), expect: cut < MAX_LINE ? null : expect };
  }
  const rest = rng.chance(0.5) ? rng.bytes(rng.size(64)) : Buffer.alloc(0);
  return { input: Buffer.concat([Buffer.from(`${line}\r\n`, 'latin1'), rest]), expect };
}

function mysqlHandshake(rng: Rng): { input: Buffer; expect: Greeting } {
  const version = Buffer.from(rng.chars(rng.range(1, 40), PRINTABLE.replace(' ', '')), 'latin1');
  const after = rng.bytes(rng.range(Math.max(0, 16 - version.length - 2), 120));
  const payload = Buffer.concat([Buffer.from([0x0a]), version, Buffer.from([0]), after]);
  const len = payload.length;
  const header = Buffer.from([len & 0xff, (len >> 8) & 0xff, len >> 16, 0]);
  return { input: Buffer.concat([header, payload]), expect: 'mysql' };
}

function structured(rng: Rng): { input: Buffer; expect: Greeting } {
  switch (rng.int(4)) {
    case 0: {
      const banner = `SSH-2.0-${rng.chars(rng.range(1, 40), PRINTABLE.replace(' ', ''))}\r\n`;
      const n = rng.chance(0.2) ? rng.range(1, 3) : banner.length;
      return { input: Buffer.from(banner.slice(0, n), 'latin1'), expect: n < 4 ? null : 'ssh' };
    }
    case 1:
    case 2:
      return reply220(rng);
    default:
      return mysqlHandshake(rng);
  }
}

/** Prefix lengths to compare with the whole: the first bytes, around each LF and NUL, around the line bound. */
function prefixes(buf: Buffer, thorough: boolean): number[] {
  const n = buf.length;
  if (thorough) return Array.from({ length: n - 1 }, (_, i) => i + 1);
  const ks = new Set<number>();
  for (let k = 1; k <= 16; k++) ks.add(k);
  for (const at of [buf.indexOf(0x0a), buf.indexOf(0), MAX_LINE, n >> 1, n - 1]) {
    for (const k of [at - 1, at, at + 1]) ks.add(k);
  }
  return [...ks].filter((k) => k >= 1 && k < n);
}

function check(buf: Buffer, expect?: Greeting, thorough = false): string | null {
  const r = sniffGreeting(buf);
  return oracle(() => invariants(buf, r, expect, thorough));
}

function invariants(buf: Buffer, r: Greeting, expect: Greeting | undefined, thorough: boolean): string | null {
  if (!ANSWERS.has(r)) return `answered ${show(r)}, not a greeting protocol`;
  if (r === null && buf.length >= MAX_LINE) return `waits on ${buf.length} bytes`;
  for (const k of prefixes(buf, thorough)) {
    const p = sniffGreeting(buf.subarray(0, k));
    if (p !== null && p !== r) return `prefix of ${k} bytes: ${p}; all ${buf.length}: ${show(r)}`;
  }
  if (expect !== undefined && r !== expect) return `expected ${show(expect)}, got ${show(r)}`;
  return null;
}

export const greetingTarget: FuzzTarget<Greeting> = {
  name: 'greeting',
  title: 'server greetings',
  maxLength: 768,
  dictionary: tokens(['SSH-2.0-', '220 ', '220-', 'ESMTP', 'FTP', '\r\n', '\n', '\x00', '\x0a', '5.7.44']),
  structured,
  check,
};
