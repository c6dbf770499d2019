// `netmon announce`: follows the daemon's health over its control socket and runs
// one command when the instance turns healthy (announce the virtual address:
// `birdc enable netmon_vip`) and another when it turns unhealthy or cannot be
// reached (withdraw it: `birdc disable netmon_vip`). One connection, one
// `show-health` request per interval; a daemon that dies closes the connection,
// which counts as unhealthy at once, without waiting for the next poll.
import { execFile } from 'node:child_process';
import { ControlClient } from '../daemon/control/socket/client.js';
import { chooseSocket } from '../daemon/control/socket/socket-path.js';
import { parseDuration } from '../daemon/config/duration.js';
import type { HealthReport } from '../daemon/control/service-health.js';

export type Announcement = 'up' | 'down';

export interface AnnounceOptions {
  socket: string;
  /** shell commands run with /bin/sh -c */
  up: string;
  down: string;
  /** ms between health requests */
  intervalMs: number;
  /** a health request unanswered this long counts as unhealthy (a hung daemon), ms */
  timeoutMs: number;
  /** ms after which the current state's command runs again (a restarted BGP speaker forgets); 0 = never */
  repeatMs: number;
  /** a command that runs longer is killed and counts as failed, ms */
  commandTimeoutMs?: number;
  /** runs a command; resolves with its exit code (default: /bin/sh -c) */
  run?: (command: string, timeoutMs: number) => Promise<number>;
  /** one line per decision (default: stdout) */
  report?: (line: string) => void;
  now?: () => number;
}

const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;

function shell(command: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const child = execFile('/bin/sh', ['-c', command], { timeout: timeoutMs }, (err) => {
      if (!err) resolve(0);
      else resolve(typeof err.code === 'number' ? err.code : 1);
    });
    child.stdout?.pipe(process.stdout);
    child.stderr?.pipe(process.stderr);
  });
}

/**
 * Keeps the route in step with the daemon's health. The command of the wanted
 * state runs when the state changes, again after a failure (every interval) and
 * every `repeatMs`; commands never overlap.
 */
export class HealthAnnouncer {
  private readonly o: Required<AnnounceOptions>;
  private client: ControlClient | null = null;
  private connecting = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private wanted: Announcement = 'down';
  private why = 'not asked yet';
  /** the state whose command last succeeded, and when */
  private applied: Announcement | null = null;
  private appliedAt = 0;
  private running: Promise<void> | null = null;
  /** a health request is on its way: the next tick does not queue another behind it */
  private asking = false;

  constructor(opts: AnnounceOptions) {
    this.o = {
      commandTimeoutMs: DEFAULT_COMMAND_TIMEOUT_MS,
      run: shell,
      report: (line) => process.stdout.write(line + '\n'),
      now: Date.now,
      ...opts,
    };
  }

  /** The state whose command last succeeded (null before the first). */
  get announced(): Announcement | null {
    return this.applied;
  }

  start(): void {
    void this.poll();
    this.timer = setInterval(() => void this.poll(), this.o.intervalMs);
  }

  /** Stops polling and withdraws: nobody watches the daemon any more. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.client?.close();
    this.client = null;
    await this.running;
    this.wanted = 'down';
    this.why = 'netmon announce is stopping';
    await this.converge(true);
  }

  private async poll(): Promise<void> {
    if (this.stopped || this.asking) return;
    this.asking = true;
    try {
      const client = await this.connect();
      if (client) {
        try {
          const h = (await client.request('show-health', {}, { timeoutMs: this.o.timeoutMs })) as HealthReport;
          this.want(h.healthy ? 'up' : 'down', h.healthy ? 'healthy' : h.reasons.map((r) => r.message).join('; '));
        } catch (err) {
          this.lost(err);
        }
      }
    } finally {
      this.asking = false;
    }
    await this.converge(false);
  }

  private async connect(): Promise<ControlClient | null> {
    if (this.client || this.connecting) return this.client;
    this.connecting = true;
    try {
      const c = await ControlClient.connect(this.o.socket, { timeoutMs: this.o.timeoutMs });
      if (this.stopped) {
        c.close();
        return null;
      }
      c.onClose(() => {
        if (this.client !== c) return;
        this.client = null;
        this.want('down', 'the daemon closed the control connection');
        void this.converge(false);
      });
      this.client = c;
      return c;
    } catch (err) {
      this.lost(err);
      return null;
    } finally {
      this.connecting = false;
    }
  }

  private lost(err: unknown): void {
    this.client?.close();
    this.client = null;
    this.want('down', `netmon unreachable: ${err instanceof Error ? err.message : String(err)}`);
  }

  private want(state: Announcement, why: string): void {
    this.wanted = state;
    this.why = why;
  }

  private async converge(final: boolean): Promise<void> {
    if (this.running) return this.running;
    if (this.stopped && !final) return;
    const state = this.wanted;
    const due = this.applied !== state || (this.o.repeatMs > 0 && this.o.now() - this.appliedAt >= this.o.repeatMs);
    if (!due) return;
    const command = state === 'up' ? this.o.up : this.o.down;
    const changed = this.applied !== state;
    this.running = (async () => {
      if (changed) this.o.report(`netmon ${state === 'up' ? 'healthy' : 'unhealthy'} (${this.why}): ${command}`);
      const code = await this.o.run(command, this.o.commandTimeoutMs);
      if (code === 0) {
        this.applied = state;
        this.appliedAt = this.o.now();
      } else {
        // tried again next interval
        this.applied = null;
        this.o.report(`command failed with exit code ${code}: ${command}`);
      }
    })().finally(() => {
      this.running = null;
    });
    await this.running;
    // the health may have changed while the command ran
    if (this.wanted !== state && !final) await this.converge(false);
  }
}

/** `netmon announce`'s options as given on the command line (durations as text, e.g. "1s"). */
export interface AnnounceArgs {
  /** shell command run when the daemon turns healthy (announce the route) */
  up: string;
  /** shell command run when it turns unhealthy or stops (withdraw the route) */
  down: string;
  /** control socket path; when absent: $NETMON_SOCKET, else the default path (socket-path.ts) */
  socket?: string;
  interval: string;
  timeout: string;
  repeat: string;
}

/** The CLI body: runs until SIGTERM or SIGINT, then withdraws. Returns the exit code. */
export async function runAnnounce(a: AnnounceArgs): Promise<number> {
  const interval = parseDuration(a.interval);
  const timeout = parseDuration(a.timeout);
  const repeat = parseDuration(a.repeat);
  for (const [name, d] of [
    ['--interval', interval],
    ['--timeout', timeout],
    ['--repeat', repeat],
  ] as const) {
    if (!d.ok) {
      process.stderr.write(`netmon announce: ${name}: ${d.reason}\n`);
      return 1;
    }
  }
  if (!interval.ok || !timeout.ok || !repeat.ok) return 1;
  if (interval.ms < 10 || timeout.ms < 10) {
    process.stderr.write('netmon announce: --interval and --timeout: at least 10ms\n');
    return 1;
  }
  const socket = chooseSocket(a.socket);
  const announcer = new HealthAnnouncer({
    socket: socket.path,
    up: a.up,
    down: a.down,
    intervalMs: interval.ms,
    timeoutMs: timeout.ms,
    repeatMs: repeat.ms,
  });
  process.stdout.write(`netmon announce: following ${socket.path} (from ${socket.from}) every ${interval.ms} ms\n`);
  announcer.start();
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  await announcer.stop();
  return 0;
}
