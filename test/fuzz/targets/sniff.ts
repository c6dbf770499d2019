// Protocol sniffing from a client's first bytes. Invariants: null (wait) only
// for nothing at all or a proper prefix of a known signature; a decision, once
// made, stays the same as more bytes arrive; the final answer is never null
// for bytes and agrees with a decision already made; a signature followed by
// anything is that protocol.
import { sniffFinal, sniffProtocol } from '../../../daemon/data/edge/sniff.js';
import { tokens } from '../mutate.js';
import type { Rng } from '../rng.js';
import { oracle } from '../oracle.js';
import { show, type FuzzTarget } from '../target.js';

type Protocol = NonNullable<ReturnType<typeof sniffProtocol>>;

const SIGNATURES: readonly [string, Protocol][] = [
  ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'http2'],
  ['SSH-', 'ssh'],
  ...['GET ', 'HEAD ', 'POST ', 'PUT ', 'DELETE ', 'CONNECT ', 'OPTIONS ', 'TRACE ', 'PATCH '].map(
    (m): [string, Protocol] => [m, 'http1'],
  ),
];
const SIGS = SIGNATURES.map(([s, p]): [Buffer, Protocol] => [Buffer.from(s, 'latin1'), p]);

/** Whether `buf` is a proper prefix of a signature, or of a TLS record's first three bytes. */
function couldStillBe(buf: Buffer): boolean {
  if (buf.length === 0) return true;
  if (buf[0] === 0x16 && buf.length < 3) return true;
  return SIGS.some(([s]) => buf.length < s.length && s.subarray(0, buf.length).equals(buf));
}

function structured(rng: Rng): { input: Buffer; expect: Protocol | null } {
  const tail = rng.bytes(rng.size(64));
  if (rng.chance(0.25)) {
    const head = Buffer.from([0x16, 0x03, rng.int(5)]);
    return { input: Buffer.concat([head, tail]), expect: head[2]! <= 4 ? 'tls' : 'other' };
  }
  const [sig, proto] = rng.pick(SIGS);
  if (rng.chance(0.2)) return { input: sig.subarray(0, rng.int(sig.length)), expect: null };
  return { input: Buffer.concat([sig, tail]), expect: proto };
}

function check(buf: Buffer, expect?: Protocol | null): string | null {
  const r = sniffProtocol(buf);
  const final = sniffFinal(buf);
  return oracle(() => invariants(buf, r, final, expect));
}

function invariants(buf: Buffer, r: Protocol | null, final: Protocol | null, expect?: Protocol | null): string | null {
  if (r === null && !couldStillBe(buf)) return `waits on ${buf.length} bytes that no signature starts with`;
  if (final === null && buf.length > 0) return 'no final answer for bytes';
  if (r !== null && final !== r) return `final ${show(final)} differs from ${show(r)}`;
  for (let k = 1; k < buf.length && k <= 32; k++) {
    const p = sniffProtocol(buf.subarray(0, k));
    if (p !== null && p !== r) return `prefix of ${k} bytes: ${p}; all ${buf.length}: ${show(r)}`;
  }
  if (expect !== undefined && r !== expect) return `expected ${show(expect)}, got ${show(r)}`;
  return null;
}

export const sniffTarget: FuzzTarget<Protocol | null> = {
  name: 'sniff',
  title: 'protocol sniffing',
  maxLength: 256,
  dictionary: tokens([...SIGNATURES.map(([s]) => s), '\x16\x03', 'HTTP/1.1', 'PRI']),
  structured,
  check,
};
