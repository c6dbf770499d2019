// A real etcd for discovery tests (Debian etcd-server, installed by
// tools/test-deps.sh): one member on loopback ports with a temporary data dir,
// that a test can kill (SIGKILL, as a crash) and start again on the same ports
// and data. Keys are written with the etcd3 client netmon itself uses.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import net from 'node:net';

/** A TCP port free on 127.0.0.1 now, below the ephemeral range (client connections come and go there). */
async function freeLowPort(): Promise<number> {
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * 22_000);
    const s = net.createServer();
    const ok = await new Promise<boolean>((resolve) => {
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return port;
  }
}

export interface EtcdServer {
  /** "http://127.0.0.1:PORT" */
  url: string;
  client: Etcd3;
  /** SIGKILL: the member is gone at once, as after a crash */
  kill(): Promise<void>;
  /** again, on the same ports and data dir; resolves once it answers */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startEtcd(): Promise<EtcdServer> {
  const dir = mkdtempSync(join(tmpdir(), 'netmon-etcd-'));
  let child: ChildProcess | null = null;
  let clientPort = 0;
  let peerPort = 0;
  let client: Etcd3 | null = null;

  const launch = async (): Promise<void> => {
    const client = `http://127.0.0.1:${clientPort}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    const c = spawn(
      'etcd',
      [
        '--name=n1',
        `--data-dir=${join(dir, 'data')}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=n1=${peer}`,
        '--logger=zap',
        '--log-level=error',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child = c;
    const exited = new Promise<never>((_, reject) =>
      c.once('exit', (code) => reject(new Error(`etcd exited (${code}): ${err.trim().slice(-500)}`))),
    );
    exited.catch(() => undefined);
    const probe = new Etcd3({
      hosts: client,
      dialTimeout: 500,
      defaultCallOptions: () => ({ deadline: Date.now() + 500 }),
    });
    try {
      const until = Date.now() + 15_000;
      const ready = (async (): Promise<void> => {
        for (;;) {
          try {
            await probe.get('/health-probe').exec();
            return;
          } catch (e) {
            if (Date.now() > until) throw new Error(`etcd on ${client} does not answer: ${(e as Error).message}`);
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      })();
      await Promise.race([ready, exited]);
    } finally {
      probe.close();
    }
  };

  const kill = async (): Promise<void> => {
    const c = child;
    child = null;
    if (c === null || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGKILL');
    await gone;
  };

  for (let attempt = 0; ; attempt++) {
    clientPort = await freeLowPort();
    peerPort = await freeLowPort();
    try {
      await launch();
      break;
    } catch (err) {
      await kill();
      rmSync(join(dir, 'data'), { recursive: true, force: true });
      if (attempt >= 3) throw err;
    }
  }
  const url = `http://127.0.0.1:${clientPort}`;
  client = new Etcd3({ hosts: url, dialTimeout: 1000 });
  return {
    url,
    client,
    kill,
    start: launch,
    async close() {
      client?.close();
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
