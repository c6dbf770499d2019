// Child processes of the bench: started here, waited for by port, stopped by PID
// (SIGTERM, then SIGKILL after a grace period). Output goes to a log file.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';

/** the compiled CLI entry; the bench runs it on the Node that runs the bench */
export const NETMON_MAIN = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

/** every child still running, so an interrupted bench leaves nothing behind */
const live = new Set<ChildProcess>();
let trapped = false;

function trapSignals(): void {
  if (trapped) return;
  trapped = true;
  const bail = (sig: NodeJS.Signals): void => {
    process.stderr.write(`netmon bench: ${sig}: stopping ${live.size} child process(es)\n`);
    // SIGTERM: nginx's master then stops its worker too, which a SIGKILL would orphan
    for (const c of live) if (c.pid !== undefined && c.exitCode === null) process.kill(c.pid, 'SIGTERM');
    process.exit(130);
  };
  process.once('SIGINT', bail);
  process.once('SIGTERM', bail);
}

export function startChild(cmd: string, args: string[], logFile: string, env?: NodeJS.ProcessEnv): ChildProcess {
  trapSignals();
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: env ?? process.env });
    live.add(child);
    child.once('exit', () => live.delete(child));
    return child;
  } finally {
    closeSync(fd);
  }
}

function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** resolves when every port accepts a connection; rejects if the child exits or time runs out */
export async function waitPorts(
  child: ChildProcess,
  ports: readonly number[],
  what: string,
  ms = 15_000,
): Promise<void> {
  const end = Date.now() + ms;
  for (const port of ports) {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${what} exited (code ${child.exitCode ?? child.signalCode}) before listening on ${port}`);
      }
      if (await portOpen(port)) break;
      if (Date.now() > end) throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child has exited */
export function stopChild(child: ChildProcess, graceMs = 8000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, graceMs);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    process.kill(child.pid!, 'SIGTERM');
  });
}

/** ports the OS says are free now, distinct */
export async function freePorts(n: number): Promise<number[]> {
  const { createServer } = await import('node:net');
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import('node:net').Server>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
