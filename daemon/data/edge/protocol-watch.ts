// The protocol of a relayed connection, read from the first bytes either side
// sends, on a listener that counts protocols but has no routes: nothing waits
// for the client, so a server that speaks first (MySQL, SMTP, FTP, SSH) is
// connected at once and recognised from its greeting. The bytes are only
// looked at, never held back or changed.
import type { Protocol } from '../../state/names.js';
import { sniffFinal, sniffGreeting, sniffProtocol } from './sniff.js';

const enum Side {
  None = 0,
  Client = 1,
  Server = 2,
}

export class ProtocolWatch {
  /** the side that spoke first: only its bytes are read */
  private side = Side.None;
  /** its bytes so far, while they do not decide (usually the first chunk decides) */
  private seen: Buffer | null = null;

  /** @param maxBytes bytes looked at before the answer is taken as it stands (inspect_bytes) */
  constructor(private readonly maxBytes: number) {}

  /** A chunk from the client. Returns the protocol once it is known, else null. */
  client(chunk: Buffer): Protocol | null {
    return this.feed(Side.Client, chunk);
  }

  /** A chunk from the backend. Returns the protocol once it is known, else null. */
  server(chunk: Buffer): Protocol | null {
    return this.feed(Side.Server, chunk);
  }

  /** The answer when no more bytes will be looked at: `unknown` when neither side sent any. */
  final(): Protocol {
    const seen = this.seen;
    if (seen === null) return 'unknown';
    return this.side === Side.Client ? (sniffFinal(seen) ?? 'other') : (sniffGreeting(seen) ?? 'other');
  }

  private feed(side: Side, chunk: Buffer): Protocol | null {
    if (this.side === Side.None) this.side = side;
    else if (this.side !== side) return null;
    const seen = this.seen === null ? chunk : Buffer.concat([this.seen, chunk]);
    this.seen = seen;
    const p = side === Side.Client ? sniffProtocol(seen) : sniffGreeting(seen);
    if (p !== null) return p;
    return seen.length >= this.maxBytes ? this.final() : null;
  }
}
