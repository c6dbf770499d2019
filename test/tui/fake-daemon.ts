// A control socket served by the real control server over a fake context: the
// dashboard's tests attach to it as to a daemon. Run directly
// (`node dist/test/tui/fake-daemon.js /tmp/x.sock 200`) it serves until killed,
// with moving rates, for trying the dashboard by hand.
import { pathToFileURL } from 'node:url';
import { startControlServer, type ControlServer } from '../../daemon/control/socket/server.js';
import type { BackendSnapshot, Snapshot } from '../../daemon/control/snapshot/snapshot.js';
import { FakeContext } from '../control/fake-context.js';

/** A FakeContext whose backends are fresh objects (the base shares one rates object). */
export class DashboardContext extends FakeContext {
  private step = 0;

  constructor(backendsPerPool = 3) {
    super(backendsPerPool);
    this.backends = this.backends.map((b) => ({
      ...b,
      rates: { ...b.rates },
      check: { ...b.check },
      agent: { ...b.agent },
    }));
  }

  backend(key: string): BackendSnapshot {
    const b = this.backends.find((x) => x.key === key);
    if (!b) throw new Error(`no backend ${key}`);
    return b;
  }

  /** deterministic movement so sparklines and charts have something to show */
  advance(): void {
    this.step++;
    this.backends.forEach((b, i) => {
      b.rates.connections = b.op === 'down' || b.admin !== 'ready' ? 0 : 10 + ((this.step * (i + 3)) % 17);
      b.rates.bytesIn = b.rates.connections * 900;
      b.rates.bytesOut = b.rates.connections * 14_000;
      b.check = { ...b.check, time: Date.now(), result: b.op === 'down' ? 'failed' : 'ok', durationMs: 0.5 + (i % 3) };
    });
  }

  override snapshot(): Snapshot {
    const s = super.snapshot();
    // keep the fixture's firing alert only while its backend is down
    return { ...s, alerts: s.alerts.filter((a) => this.backends.some((b) => b.key === a.subject && b.op === 'down')) };
  }
}

export async function startFakeDaemon(
  path: string,
  ctx = new DashboardContext(),
): Promise<{ ctx: DashboardContext; server: ControlServer }> {
  const server = await startControlServer({ path, context: ctx });
  return { ctx, server };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const path = process.argv[2] ?? '/tmp/netmon-fake.sock';
  const ctx = new DashboardContext(Number(process.argv[3] ?? 3));
  ctx.backend('db/b2').op = 'down';
  await startFakeDaemon(path, ctx);
  setInterval(() => ctx.advance(), 500);
  process.stdout.write(`fake daemon on ${path}\n`);
}
