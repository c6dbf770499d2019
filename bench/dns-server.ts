// A real DNS server for the discovery tests and benchmark: dnsmasq (Debian
// dnsmasq-base, installed by tools/test-deps.sh) on a loopback port,
// authoritative for "netmon.test", answering from a hosts file that can be
// rewritten (SIGHUP re-reads it) and from srv-host lines (read at start only: a
// restart changes them), every answer with a TTL of 1 s. A delaying UDP proxy
// stands for a slow resolver.
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { promises as dns } from 'node:dns';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import net from 'node:net';
import { join } from 'node:path';

export const DOMAIN = 'netmon.test';
const SERIAL_NAME = `serial.${DOMAIN}`;

export interface DnsServer {
  port: number;
  /** replace the address lines ("127.0.0.2 app.netmon.test"); resolves once dnsmasq answers from them */
  setHosts(lines: string[]): Promise<void>;
  /** replace the srv-host lines ("_app._tcp.netmon.test,t1.netmon.test,5001,0,10"): a restart on the same port */
  setSrv(lines: string[]): Promise<void>;
  /** stop answering (the process ends: queries are refused by the closed port) */
  stop(): Promise<void>;
  /** answer again, on the same port, from the same files */
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A port free on 127.0.0.1 for both UDP and TCP now (both bound, then closed),
 * below the ephemeral range: a DNS server listens on both, and ports in the
 * ephemeral range come and go with every client connection on the machine.
 */
async function freeDnsPort(): Promise<number> {
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * 22_000);
    const udp = dgram.createSocket('udp4');
    const tcp = net.createServer();
    const ok = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => {
        tcp.once('error', () => resolve(false));
        tcp.listen(port, '127.0.0.1', () => resolve(true));
      });
    });
    await new Promise<void>((r) => tcp.close(() => r()));
    await new Promise<void>((r) => {
      try {
        udp.close(() => r());
      } catch {
        r();
      }
    });
    if (ok) return port;
  }
}

export async function startDnsmasq(hosts: string[], srv: string[] = []): Promise<DnsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'netmon-dns-'));
  const hostsFile = join(dir, 'hosts');
  const confFile = join(dir, 'dnsmasq.conf');
  let serial = 0;
  let srvLines = srv;
  let hostLines = hosts;
  const writeHosts = (): void => {
    serial++;
    writeFileSync(
      hostsFile,
      [...hostLines, `127.255.${(serial >> 8) & 255}.${serial & 255} ${SERIAL_NAME}`, ''].join('\n'),
    );
  };
  const writeConf = (): void => writeFileSync(confFile, srvLines.map((l) => `srv-host=${l}`).join('\n') + '\n');
  writeHosts();
  writeConf();
  let port = 0;
  let child: ChildProcess | null = null;

  /** Resolves once dnsmasq answers the current serial; stops asking when `gone()` says the process ended. */
  const answering = async (gone: () => boolean): Promise<void> => {
    const want = `127.255.${(serial >> 8) & 255}.${serial & 255}`;
    // a resolver of its own: one whose question is still pending cannot be given other servers
    const probe = new dns.Resolver({ timeout: 200, tries: 1 });
    probe.setServers([`127.0.0.1:${port}`]);
    const until = Date.now() + 5000;
    try {
      while (!gone()) {
        try {
          if ((await probe.resolve4(SERIAL_NAME)).includes(want)) return;
        } catch {
          // not up yet, or still the old file
        }
        if (Date.now() > until) throw new Error(`dnsmasq on port ${port} does not answer serial ${serial}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`dnsmasq on port ${port} exited`);
    } finally {
      probe.cancel();
    }
  };

  const launch = async (): Promise<void> => {
    const args = [
      '--keep-in-foreground',
      `--conf-file=${confFile}`,
      `--port=${port}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      '--no-resolv',
      '--no-hosts',
      `--addn-hosts=${hostsFile}`,
      '--local-ttl=1',
      `--local=/${DOMAIN}/`,
      `--user=${userInfo().username}`,
      '--pid-file=',
      '--log-facility=-',
    ];
    const c = spawn('dnsmasq', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    let ended = false;
    const exited = new Promise<never>((_, reject) =>
      c.once('exit', (code) => {
        ended = true;
        reject(new Error(`dnsmasq exited (${code}): ${err.trim()}`));
      }),
    );
    exited.catch(() => undefined);
    child = c;
    await Promise.race([answering(() => ended), exited]);
  };

  const kill = async (): Promise<void> => {
    const c = child;
    child = null;
    if (c === null || c.exitCode !== null) return;
    const gone = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    await gone;
  };

  for (let attempt = 0; ; attempt++) {
    port = await freeDnsPort();
    try {
      await launch();
      break;
    } catch (err) {
      await kill();
      // the port was taken between the probe and dnsmasq's bind (TCP side): another one
      if (attempt >= 4) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }

  return {
    port,
    async setHosts(lines) {
      hostLines = lines;
      writeHosts();
      const c = child;
      c?.kill('SIGHUP');
      await answering(() => c === null || c.exitCode !== null);
    },
    async setSrv(lines) {
      srvLines = lines;
      writeConf();
      writeHosts();
      await kill();
      await launch();
    },
    stop: kill,
    async start() {
      writeHosts();
      await launch();
    },
    async close() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A name server that answers slowly: UDP queries are passed to `upstream` at
 * once, and each answer is held `delayMs` before it is sent back. `held`
 * counts answers waiting; `released` those sent.
 */
export interface SlowDns {
  port: number;
  held: number;
  released: number;
  /** resolves when an answer is being held; rejects after `timeoutMs` */
  nextHeld(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export async function startSlowDns(upstream: number, delayMs: number): Promise<SlowDns> {
  const front = dgram.createSocket('udp4');
  const timers = new Set<NodeJS.Timeout>();
  const waiters: (() => void)[] = [];
  const proxies = new Set<dgram.Socket>();
  const s: SlowDns = {
    port: 0,
    held: 0,
    released: 0,
    nextHeld: (timeoutMs) =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no DNS answer held within ${timeoutMs} ms`)), timeoutMs);
        waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      }),
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const p of proxies) p.close();
      await new Promise<void>((r) => front.close(() => r()));
    },
  };
  front.on('message', (query, client) => {
    // one upstream socket per query: its answer is matched to the client without parsing DNS
    const up = dgram.createSocket('udp4');
    proxies.add(up);
    up.on('message', (answer) => {
      s.held++;
      for (const w of waiters.splice(0)) w();
      const t = setTimeout(() => {
        timers.delete(t);
        s.held--;
        s.released++;
        front.send(answer, client.port, client.address);
        up.close();
        proxies.delete(up);
      }, delayMs);
      timers.add(t);
    });
    up.send(query, upstream, '127.0.0.1');
  });
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', () => r()));
  s.port = front.address().port;
  return s;
}
