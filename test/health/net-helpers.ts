// Real sockets for probe tests: servers on 127.0.0.1 port 0, a closed port, and a
// check that a probe left no socket or timer behind.
import net from 'node:net';
import http from 'node:http';
import { once } from 'node:events';
import { spawn } from 'node:child_process';

export interface Running {
  port: number;
  close(): Promise<void>;
}

export async function tcpServer(onConn: (s: net.Socket) => void): Promise<Running> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    onConn(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export async function httpServer(handler: http.RequestListener): Promise<Running> {
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A port nothing listens on (just released by the kernel). */
export async function closedPort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function count(kind: string): number {
  return process.getActiveResourcesInfo().filter((k) => k === kind).length;
}

export function resources(): { sockets: number; timers: number } {
  return { sockets: count('TCPSocketWrap'), timers: count('Timeout') };
}

/**
 * Wait (bounded) until open sockets and timers are back to `before` or fewer (a
 * previous test's server-side socket may close meanwhile); returns true if so.
 */
export async function settledTo(before: { sockets: number; timers: number }): Promise<boolean> {
  const deadline = Date.now() + 3000;
  let now = resources();
  while ((now.sockets > before.sockets || now.timers > before.timers) && Date.now() < deadline) {
    await new Promise<void>((r) => setTimeout(r, 5));
    now = resources();
  }
  return now.sockets <= before.sockets && now.timers <= before.timers;
}

/**
 * A port whose connects hang: a stopped child process listens with a backlog of 1
 * and never accepts; once its accept queue is full the kernel drops further SYNs,
 * so a connect neither succeeds nor is refused (the only loopback "blackhole").
 */
export async function hangingPort(): Promise<Running> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      "const s=require('net').createServer().listen({port:0,host:'127.0.0.1',backlog:1},()=>{process.stdout.write(String(s.address().port)+'\\n')});",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  const port = Number(line.toString().trim());
  child.kill('SIGSTOP');
  const fillers: net.Socket[] = [];
  // fill the accept queue: stop at the first connect that does not complete
  for (let i = 0; i < 16; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    fillers.push(s);
    const connected = await Promise.race([
      once(s, 'connect').then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 300)),
    ]);
    if (!connected) break;
  }
  return {
    port,
    close: async () => {
      for (const s of fillers) s.destroy();
      child.kill('SIGKILL');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    },
  };
}
