// Discovery test helpers: the real DNS server and the slow resolver of the
// benchmark (bench/dns-server.ts), and echo servers on any loopback address.
import net from 'node:net';

export { DOMAIN, startDnsmasq, startSlowDns } from '../../bench/dns-server.js';

export interface EchoOn {
  host: string;
  port: number;
  name: string;
  accepted: number;
  close(): Promise<void>;
}

/** A server on `host:port` that greets with "<name>\n" and echoes (as startNamedEcho, on any loopback address). */
export async function echoOn(host: string, port: number, name: string): Promise<EchoOn> {
  const open = new Set<net.Socket>();
  const e: EchoOn = { host, port, name, accepted: 0, close: async () => undefined };
  const server = net.createServer({ allowHalfOpen: true }, (c) => {
    e.accepted++;
    open.add(c);
    c.on('close', () => open.delete(c));
    c.on('error', () => undefined);
    c.write(`${name}\n`);
    c.on('data', (d) => c.write(d));
    c.on('end', () => c.end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve());
  });
  e.port = (server.address() as net.AddressInfo).port;
  e.close = () =>
    new Promise((r) => {
      for (const c of open) c.destroy();
      server.close(() => r());
    });
  return e;
}

/** One echo server per address, all on one port (A records carry no port). */
export async function echoesOnOnePort(hosts: string[], names: string[]): Promise<EchoOn[]> {
  for (let attempt = 0; ; attempt++) {
    const first = await echoOn(hosts[0]!, 0, names[0]!);
    const rest: EchoOn[] = [];
    try {
      for (let i = 1; i < hosts.length; i++) rest.push(await echoOn(hosts[i]!, first.port, names[i]!));
      return [first, ...rest];
    } catch (err) {
      for (const e of [first, ...rest]) await e.close();
      if (attempt >= 4) throw err;
    }
  }
}
