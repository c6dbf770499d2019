// The soak's machine room: three backend processes, the daemon in a process of
// its own (daemon-host-main.ts), its config, and what the faults need: kill,
// stop and restart a backend, signal the daemon, crash a worker, change its
// descriptor limit, read its memory, descriptors and `show` answers.
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from '../../daemon/control/socket/client.js';
import type { AlertSnapshot, Snapshot } from '../../daemon/control/snapshot/snapshot.js';
import type { HostReply, HostRequest } from './daemon-host-main.js';

const BACKEND = fileURLToPath(new URL('./backend-main.js', import.meta.url));
const HOST = fileURLToPath(new URL('./daemon-host-main.js', import.meta.url));

export type Stats = Pick<Snapshot, 'process' | 'workers' | 'listeners' | 'backends'>;

interface Backend {
  name: string;
  port: number;
  child: ChildProcess;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function startBackend(name: string, port: number): Promise<Backend> {
  const child = fork(BACKEND, [String(port)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { type: string; port: number }) => resolve({ name, port: m.port, child }));
    child.once('exit', (code) => reject(new Error(`backend ${name} exited (${code}) before listening`)));
  });
}

export class Lab {
  readonly dir = mkdtempSync(join(tmpdir(), 'netmon-soak-'));
  readonly sock = join(this.dir, 'netmon.sock');
  readonly configPath = join(this.dir, 'netmon.toml');
  readonly logPath = join(this.dir, 'daemon.log');
  backends: Backend[] = [];
  daemon: ChildProcess | null = null;
  /** the client listener, and one with per-source limits */
  port = 0;
  sourcesPort = 0;
  exited: Promise<number | string> = Promise.resolve(0);
  /** the daemon's resident memory once started and idle, bytes */
  idleRss = 0;

  async start(): Promise<void> {
    this.backends = await Promise.all(['b1', 'b2', 'b3'].map((n) => startBackend(n, 0)));
    this.port = await freePort();
    this.sourcesPort = await freePort();
    this.writeConfig(1);
    const log = openSync(this.logPath, 'a');
    const d = fork(HOST, [this.configPath], { execArgv: ['--expose-gc'], stdio: ['ignore', log, log, 'ipc'] });
    this.daemon = d;
    this.exited = new Promise((r) => d.once('exit', (code, signal) => r(code ?? signal ?? -1)));
    await new Promise<void>((resolve, reject) => {
      d.once('message', (m: HostReply) => (m.type === 'started' ? resolve() : undefined));
      void this.exited.then((c) => reject(new Error(`the daemon exited (${c}) while starting: see ${this.logPath}`)));
    });
    await new Promise((r) => setTimeout(r, 3000));
    this.idleRss = this.rss();
  }

  get pid(): number {
    return this.daemon!.pid!;
  }

  /** The config: b1's weight is what 20 reloads change. */
  writeConfig(b1Weight: number): void {
    const lines = [
      'workers = 2',
      'drain_timeout = "30s"',
      '[control]',
      `socket = ${JSON.stringify(this.sock)}`,
      '[metrics]',
      'listen = "off"',
      '[log]',
      'level = "info"',
      '[alerts]',
      'interval = "1s"',
      '[[listener]]',
      'name = "main"',
      `bind = "127.0.0.1:${this.port}"`,
      'pool = "web"',
      'backlog = 4096',
      '[[listener]]',
      'name = "sources"',
      `bind = "127.0.0.1:${this.sourcesPort}"`,
      'pool = "web"',
      'backlog = 4096',
      'source_limits = { max_connections = 20, rate = 1000, burst = 2000, table_size = 131072 }',
      '[pool.web]',
      'algorithm = "round_robin"',
      'retries = 2',
      'timeouts = { connect = "1s", idle = "60s" }',
      'health = { type = "http", path = "/health", expect_status = 200, interval = "500ms", timeout = "300ms", rise = 2, fall = 2 }',
      'passive = { consecutive_failures = 3 }',
    ];
    for (const b of this.backends) {
      const w = b.name === 'b1' ? b1Weight : 1;
      lines.push('[[pool.web.backend]]', `name = "${b.name}"`, `address = "127.0.0.1:${b.port}"`, `weight = ${w}`);
    }
    writeFileSync(this.configPath, lines.join('\n') + '\n');
  }

  /** Resident memory of the daemon, bytes. */
  rss(): number {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  }

  /** Open descriptors of the daemon. */
  fds(): number {
    const n = statSync(`/proc/${this.pid}/fd`).size;
    return n > 0 ? n : readdirSync(`/proc/${this.pid}/fd`).length;
  }

  ctl<T>(cmd: string): Promise<T> {
    return request(this.sock, cmd, {}, { timeoutMs: 10_000 }) as Promise<T>;
  }

  stats(): Promise<Stats> {
    return this.ctl<Stats>('show stats');
  }

  alerts(): Promise<AlertSnapshot[]> {
    return this.ctl<AlertSnapshot[]>('show alerts');
  }

  signal(sig: NodeJS.Signals): void {
    process.kill(this.pid, sig);
  }

  /** Crash worker `id` as a bug outside any connection would; resolves once it has exited. */
  crashWorker(id: number): Promise<boolean> {
    const d = this.daemon!;
    return new Promise((resolve) => {
      const on = (m: HostReply): void => {
        if (m.type !== 'crashed') return;
        d.off('message', on);
        resolve(m.ok);
      };
      d.on('message', on);
      d.send({ type: 'crash-worker', id } satisfies HostRequest);
    });
  }

  /** Set the daemon's soft descriptor limit while it runs (the hard one stays: the soft one can go back up). */
  limitFds(n: number): void {
    const r = spawnSync('prlimit', ['--pid', String(this.pid), `--nofile=${n}:`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`prlimit failed: ${r.stderr}`);
  }

  fdLimit(): number {
    const line = readFileSync(`/proc/${this.pid}/limits`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'))!;
    return Number(line.slice('Max open files'.length).trim().split(/\s+/)[0]);
  }

  backend(name: string): Backend {
    return this.backends.find((b) => b.name === name)!;
  }

  /** SIGKILL a backend; resolves once it is gone. */
  async killBackend(name: string): Promise<void> {
    const b = this.backend(name);
    const gone = new Promise((r) => b.child.once('exit', r));
    b.child.kill('SIGKILL');
    await gone;
  }

  /** Start a killed backend again on its port. */
  async restartBackend(name: string): Promise<void> {
    const old = this.backend(name);
    const b = await startBackend(name, old.port);
    this.backends = this.backends.map((x) => (x.name === name ? b : x));
  }

  pauseBackend(name: string, paused: boolean): void {
    this.backend(name).child.kill(paused ? 'SIGSTOP' : 'SIGCONT');
  }

  /** Lines of the daemon's log matching `re`. */
  logLines(re: RegExp): string[] {
    return readFileSync(this.logPath, 'utf8')
      .split('\n')
      .filter((l) => re.test(l));
  }

  /** Ends everything still running (by PID) and removes the directory unless asked to keep it. */
  async stop(keep: boolean): Promise<void> {
    const d = this.daemon;
    if (d && d.exitCode === null && d.signalCode === null) {
      d.kill('SIGKILL');
      await this.exited;
    }
    for (const b of this.backends) {
      if (b.child.exitCode === null && b.child.signalCode === null) {
        b.child.kill('SIGCONT');
        b.child.kill('SIGKILL');
      }
    }
    if (!keep) rmSync(this.dir, { recursive: true, force: true });
  }
}
