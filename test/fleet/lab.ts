// A network lab of Linux network namespaces for the fleet tests: hosts joined
// by veth pairs and bridges, processes started inside them and tracked by PID.
// Everything it makes carries a prefix unique to this test process, so runs in
// parallel never meet, and close() ends its processes (by PID) and deletes its
// namespaces (which takes their interfaces with them). Needs root and `ip`.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, createWriteStream, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createInterface } from 'node:readline';

const run = promisify(execFile);

/** Why the lab cannot be built here, or null when it can (root, `ip netns` works). */
export async function labUnavailable(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'the fleet tests build network namespaces: run them as root';
  const probe = `nmprobe${process.pid}`;
  try {
    await run('ip', ['netns', 'add', probe]);
    await run('ip', ['netns', 'del', probe]);
    return null;
  } catch (err) {
    return `ip netns is not permitted here: ${(err as Error).message.split('\n')[0]}`;
  }
}

export interface LabProcess {
  name: string;
  ns: string;
  child: ChildProcess;
  pid: number;
  /** where its stdout and stderr go */
  log: string;
  exited: Promise<number | null>;
}

export class Lab {
  readonly dir: string;
  private readonly prefix: string;
  private readonly namespaces: string[] = [];
  private readonly procs: LabProcess[] = [];
  /** PIDs a process wrote to files (daemons' children), ended with the rest */
  private readonly pidFiles: string[] = [];

  constructor(tag: string) {
    this.prefix = `nm${process.pid}${tag}`;
    this.dir = mkdtempSync(join(tmpdir(), `netmon-${tag}-`));
  }

  /** The full name of host `name`. */
  ns(name: string): string {
    return `${this.prefix}-${name}`;
  }

  async host(name: string): Promise<string> {
    const ns = this.ns(name);
    await run('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    await this.ip(name, 'link', 'set', 'lo', 'up');
    return ns;
  }

  /** `ip -n HOST ...` */
  async ip(host: string, ...args: string[]): Promise<string> {
    const { stdout } = await run('ip', ['-n', this.ns(host), ...args]);
    return stdout;
  }

  /** Many `ip` commands at once (`ip -n HOST -batch -`), e.g. hundreds of addresses. */
  async ipBatch(host: string, lines: string[]): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const p = spawn('ip', ['-n', this.ns(host), '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ip -batch: ${err}`))));
      p.stdin.end(lines.join('\n') + '\n');
    });
  }

  /** A command inside a host, to completion. */
  async exec(host: string, argv: string[]): Promise<string> {
    const { stdout } = await run('ip', ['netns', 'exec', this.ns(host), ...argv], { timeout: 10_000 });
    return stdout;
  }

  async sysctl(host: string, ...settings: string[]): Promise<void> {
    await this.exec(host, ['sysctl', '-qw', ...settings]);
  }

  /** A veth pair from `a` (interface `aIf`) to `b` (`bIf`), both up. */
  async link(a: string, aIf: string, b: string, bIf: string): Promise<void> {
    await this.ip(a, 'link', 'add', aIf, 'type', 'veth', 'peer', 'name', bIf, 'netns', this.ns(b));
    await this.ip(a, 'link', 'set', aIf, 'up');
    await this.ip(b, 'link', 'set', bIf, 'up');
  }

  async bridge(host: string, name: string, address: string, ports: string[]): Promise<void> {
    await this.ip(host, 'link', 'add', name, 'type', 'bridge');
    for (const p of ports) await this.ip(host, 'link', 'set', p, 'master', name);
    await this.ip(host, 'addr', 'add', address, 'dev', name);
    await this.ip(host, 'link', 'set', name, 'up');
  }

  /**
   * A long-running process inside a host. `ip netns exec` execs the command, so
   * the PID is the command's own. Output goes to DIR/NAME.log, and each stdout
   * line to `onLine` when given.
   */
  start(host: string, name: string, argv: string[], onLine?: (line: string) => void): LabProcess {
    const log = join(this.dir, `${name}.log`);
    const child = spawn('ip', ['netns', 'exec', this.ns(host), ...argv], {
      stdio: ['pipe', 'pipe', 'pipe'],
      cwd: this.dir,
    });
    if (child.pid === undefined) throw new Error(`could not start ${name}`);
    const out = createWriteStream(log);
    child.stderr!.pipe(out);
    if (onLine) {
      createInterface({ input: child.stdout! }).on('line', (l) => {
        out.write(l + '\n');
        onLine(l);
      });
    } else child.stdout!.pipe(out);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const p: LabProcess = { name, ns: this.ns(host), child, pid: child.pid, log, exited };
    this.procs.push(p);
    return p;
  }

  /**
   * A daemon that writes the PID of a child to `file` (keepalived's VRRP process),
   * named COMM-WHAT.pid: ended on close if still there and still running COMM.
   */
  trackPidFile(file: string): void {
    this.pidFiles.push(file);
  }

  /** The last lines of a process's log, for a failure message. */
  tail(p: LabProcess, lines = 30): string {
    try {
      return readFileSync(p.log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /**
   * Ends every process it started (SIGTERM, then SIGKILL after 3 s), then deletes
   * the namespaces. The directory (configs, logs) stays when NETMON_KEEP_LAB is set.
   */
  async close(): Promise<void> {
    const keepDir = process.env.NETMON_KEEP_LAB !== undefined;
    const live = this.procs.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
    for (const p of live) signal(p.pid, 'SIGTERM');
    await Promise.race([Promise.all(live.map((p) => p.exited)), sleep(3000)]);
    for (const p of live) if (p.child.exitCode === null && p.child.signalCode === null) signal(p.pid, 'SIGKILL');
    await Promise.race([Promise.all(live.map((p) => p.exited)), sleep(2000)]);
    // a daemon's child left behind (its parent removes the file when it exits cleanly)
    for (const f of this.pidFiles) {
      const pid = existsSync(f) ? Number(readFileSync(f, 'utf8').trim()) : NaN;
      if (Number.isInteger(pid) && pid > 1 && commOf(pid) === commOfFile(f)) signal(pid, 'SIGKILL');
    }
    for (const ns of this.namespaces.splice(0).reverse()) {
      await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    }
    if (keepDir) process.stderr.write(`lab files kept in ${this.dir}\n`);
    else rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The command name of a live process, or null. */
function commOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

/** trackPidFile's files are named COMM-WHAT.pid: the command the PID must belong to. */
function commOfFile(file: string): string {
  return (file.split('/').pop() ?? '').split('-')[0] ?? '';
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` every `everyMs` until it returns a value other than null/false, or fails after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | null | false> | T | null | false,
  timeoutMs: number,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
