// Backends for the namespace tests, run inside the backends namespace:
//   node backend.js '{"host":"10.2.0.1","backends":[{"name":"b1","port":7001},...]}'
// Each greets a connection with "NAME PEER\n" (PEER: the address the connection
// came from, i.e. which netmon instance relayed it), then echoes what it reads and
// ends its side when the client ends. Prints "ready" once every port listens.
import net from 'node:net';

interface Spec {
  host: string;
  backends: { name: string; port: number }[];
}

const spec = JSON.parse(process.argv[2] ?? '{}') as Spec;

function serve(name: string, port: number): Promise<void> {
  const server = net.createServer({ allowHalfOpen: true }, (c) => {
    c.on('error', () => c.destroy());
    c.write(`${name} ${c.remoteAddress ?? '?'}\n`);
    c.on('data', (d) => c.write(d));
    c.on('end', () => c.end());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: spec.host, port, backlog: 1024 }, () => resolve());
  });
}

await Promise.all(spec.backends.map((b) => serve(b.name, b.port)));
process.stdout.write('ready\n');
