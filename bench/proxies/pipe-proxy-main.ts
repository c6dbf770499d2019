// The minimal Node pipe proxy: accept, connect to the next backend round robin,
// pipe both ways, destroy both on any error. No health, no limits, no metrics:
// the floor that any Node TCP proxy starts from.
// Usage: node pipe-proxy-main.js LISTEN_PORT=BACKEND_PORT[,BACKEND_PORT...] ...
import { connect, createServer } from 'node:net';

for (const route of process.argv.slice(2)) {
  const [listen, backends] = route.split('=');
  const ports = (backends ?? '').split(',').map(Number);
  let next = 0;
  const server = createServer({ noDelay: true }, (client) => {
    const port = ports[next++ % ports.length]!;
    const upstream = connect({ host: '127.0.0.1', port, noDelay: true });
    client.pipe(upstream).pipe(client);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  });
  server.listen({ host: '127.0.0.1', port: Number(listen), backlog: 4096 });
}
process.on('SIGTERM', () => process.exit(0));
