// A backend in a process of its own, so a test can do to it what happens to real
// servers: stop it (SIGSTOP: its kernel still completes handshakes and takes
// bytes, nothing answers) or kill it (SIGKILL: its kernel resets every
// connection it holds, and those still in its accept queue). Only the process
// this helper started is signalled, by its PID.
import { spawn, type ChildProcess } from 'node:child_process';

export interface ChildBackend {
  port: number;
  pid: number;
  /** SIGSTOP */
  stop(): void;
  /** SIGCONT */
  resume(): void;
  /** SIGKILL, resolved once the process is gone */
  kill(): Promise<void>;
}

// 'greet': writes `${name}\n` on accept and echoes; 'echo': echoes only (the client speaks first)
const SCRIPT = `
const net = require('node:net');
const [name, mode] = process.argv.slice(1);
const server = net.createServer({ allowHalfOpen: true }, (c) => {
  c.on('error', () => {});
  if (mode === 'greet') c.write(name + '\\n');
  c.on('data', (d) => c.write(mode === 'echo' ? name + ':' + d : d));
  c.on('end', () => c.end());
});
server.listen({ host: '127.0.0.1', port: 0, backlog: 511 }, () => console.log(server.address().port));
`;

export async function startChildBackend(name: string, mode: 'greet' | 'echo'): Promise<ChildBackend> {
  const child: ChildProcess = spawn(process.execPath, ['-e', SCRIPT, name, mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
  });
  const pid = child.pid!;
  return {
    port,
    pid,
    stop: () => process.kill(pid, 'SIGSTOP'),
    resume: () => process.kill(pid, 'SIGCONT'),
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
