// The clients of the namespace tests, run inside the client namespace:
//   node flow-client.js '{"host":"10.9.0.1","port":80,"sources":["10.1.1.1",...],"rate":150}'
// Short flows: connect from the next source address, send "x\n", read the
// backend's greeting ("NAME PEER\n") and the echo, close (with dwellMs: send
// "x\n" that long after the greeting, so that some are always open). Held flows: stay open,
// echoing "p\n" every 200 ms, until released: then a last "q\n" and its echo,
// and a clean close both ways (only then does it succeed). Prints {"type":"ready"} first.
// A flow fails on an error or an early close at once; "timeout" is only for one
// that hangs (SYN retransmits included), so a slow machine does not fail flows. Commands come as JSON lines on
// stdin ({"cmd":"start"|"hold"|"release"|"stop"}; release takes "via": only the
// held flows relayed by that instance address); every finished flow is one
// JSON line on stdout with its start and end (ms since the epoch), its source,
// whether it succeeded, the error, and the backend and relaying address it saw.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

export interface FlowRecord {
  type: 'flow';
  kind: 'short' | 'held';
  src: string;
  /** ms since the epoch, sub-ms precision */
  start: number;
  end: number;
  ok: boolean;
  /** errno code, or timeout | closed | garbled */
  err: string | null;
  /** backend name and the netmon instance address it saw; null before the greeting */
  backend: string | null;
  via: string | null;
}

export type AgentLine =
  | FlowRecord
  | { type: 'ready' }
  | { type: 'holding'; open: number }
  | { type: 'released'; count: number }
  | { type: 'done' };

/** A command on the agent's stdin. */
export interface AgentCommand {
  cmd: 'start' | 'hold' | 'release' | 'stop';
  /** hold: how many */
  count?: number;
  /** release: only the held flows relayed by this instance address (default: all) */
  via?: string;
}

export interface AgentSpec {
  host: string;
  port: number;
  sources: string[];
  /** short flows per second */
  rate: number;
  /** a short flow not done after this long, or a held flow's echo owed this long, fails with "timeout", ms */
  timeoutMs?: number;
  /** a short flow sends its word this long after the greeting instead of at once, ms (default 0) */
  dwellMs?: number;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as AgentSpec;
const TIMEOUT_MS = spec.timeoutMs ?? 10_000;
const DWELL_MS = spec.dwellMs ?? 0;
const PING_MS = 200;
const now = (): number => performance.timeOrigin + performance.now();
const emit = (line: AgentLine): void => void process.stdout.write(JSON.stringify(line) + '\n');

/** One client connection, reporting itself once. */
class Flow {
  readonly start = now();
  private readonly socket: net.Socket;
  private buf = '';
  private backend: string | null = null;
  private via: string | null = null;
  private done = false;
  private timer: NodeJS.Timeout | null = null;
  private dwell: NodeJS.Timeout | null = null;
  private pinger: NodeJS.Timeout | null = null;
  private releasing = false;
  /** replies still owed by the backend, and since when the oldest is */
  private owed = 0;
  private owedSince = 0;

  constructor(
    readonly kind: 'short' | 'held',
    readonly src: string,
    private readonly onDone: (f: Flow) => void,
  ) {
    this.socket = net.connect({ host: spec.host, port: spec.port, localAddress: src, allowHalfOpen: true });
    this.socket.setNoDelay(true);
    this.socket.setEncoding('utf8');
    this.socket.on('connect', () => {
      if (kind === 'short' && DWELL_MS === 0) this.send('x');
    });
    this.socket.on('data', (d: string) => this.onData(d));
    this.socket.on('error', (e: NodeJS.ErrnoException) => this.finish(false, e.code ?? e.message));
    this.socket.on('end', () => {
      if (this.releasing && this.owed === 0 && this.established) this.finish(true, null);
      else this.finish(false, 'closed');
    });
    this.socket.on('close', () => this.finish(false, 'closed'));
    if (kind === 'short') this.timer = setTimeout(() => this.finish(false, 'timeout'), TIMEOUT_MS);
  }

  get established(): boolean {
    return this.backend !== null;
  }

  /** the relaying instance address the backend saw, once greeted */
  get relayedBy(): string | null {
    return this.via;
  }

  /** Last exchange, then a clean close: "q" and its echo, our FIN, the backend's FIN. */
  release(): void {
    if (this.done || this.releasing) return;
    this.releasing = true;
    if (this.pinger) clearInterval(this.pinger);
    this.timer = setTimeout(() => this.finish(false, 'timeout'), TIMEOUT_MS);
    if (!this.established) return void this.socket.end();
    this.send('q');
  }

  private send(word: string): void {
    if (this.owed === 0) this.owedSince = now();
    this.owed++;
    this.socket.write(word + '\n');
  }

  private onData(d: string): void {
    this.buf += d;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) !== -1) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (this.backend === null) {
        const [name, peer] = line.split(' ');
        if (!name || !peer) return this.finish(false, 'garbled');
        this.backend = name;
        this.via = peer.startsWith('::ffff:') ? peer.slice(7) : peer;
        if (this.kind === 'short' && DWELL_MS > 0) this.dwell = setTimeout(() => this.send('x'), DWELL_MS);
        if (this.kind === 'held') {
          this.pinger = setInterval(() => {
            if (this.owed === 0) this.send('p');
            else if (now() - this.owedSince > TIMEOUT_MS) this.finish(false, 'timeout');
          }, PING_MS);
        }
        continue;
      }
      this.owed--;
      this.owedSince = now();
      if (this.kind === 'short' && this.owed === 0) return this.finish(true, null);
      if (this.releasing && this.owed === 0) this.socket.end();
    }
  }

  finish(ok: boolean, err: string | null): void {
    if (this.done) return;
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.dwell) clearTimeout(this.dwell);
    if (this.pinger) clearInterval(this.pinger);
    this.socket.destroy();
    emit({
      type: 'flow',
      kind: this.kind,
      src: this.src,
      start: this.start,
      end: now(),
      ok,
      err,
      backend: this.backend,
      via: this.via,
    });
    this.onDone(this);
  }
}

const open = new Set<Flow>();
const held = new Set<Flow>();
let next = 0;
let ticker: NodeJS.Timeout | null = null;
let stopping = false;

function source(): string {
  const s = spec.sources[next % spec.sources.length]!;
  next++;
  return s;
}

function startShort(): void {
  const f = new Flow('short', source(), (x) => {
    open.delete(x);
    maybeDone();
  });
  open.add(f);
}

function hold(count: number): void {
  let pending = count;
  const settled = (): void => {
    if (--pending === 0) emit({ type: 'holding', open: [...held].filter((f) => f.established).length });
  };
  for (let i = 0; i < count; i++) {
    const f = new Flow('held', source(), (x) => {
      held.delete(x);
      if (!x.established) settled();
      maybeDone();
    });
    held.add(f);
    const wait = setInterval(() => {
      if (f.established) {
        clearInterval(wait);
        settled();
      } else if (!held.has(f)) clearInterval(wait);
    }, 5);
  }
}

function maybeDone(): void {
  if (stopping && open.size === 0 && held.size === 0) {
    emit({ type: 'done' });
    process.exit(0);
  }
}

emit({ type: 'ready' });
createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line) as AgentCommand;
  if (m.cmd === 'start' && !ticker) {
    // paced, not back to back: the load stays the same whatever the latency
    const every = 1000 / spec.rate;
    let due = now();
    ticker = setInterval(
      () => {
        const t = now();
        while (due <= t) {
          startShort();
          due += every;
        }
      },
      Math.max(1, Math.floor(every)),
    );
  } else if (m.cmd === 'hold') hold(m.count ?? 1);
  else if (m.cmd === 'release') {
    const which = [...held].filter((f) => m.via === undefined || f.relayedBy === m.via);
    for (const f of which) f.release();
    emit({ type: 'released', count: which.length });
  } else if (m.cmd === 'stop') {
    stopping = true;
    if (ticker) clearInterval(ticker);
    for (const f of held) f.release();
    maybeDone();
  }
});
