// The minimal Node pipe proxy: accept, connect to the next backend round robin,
// pipe both ways, destroy both on any error. No health, no limits, no metrics:
// the floor that any Node TCP proxy starts from.
// Usage: node pipe-proxy-main.js LISTEN_PORT=BACKEND_PORT[,BACKEND_PORT...] ...
import { connect, createServer } from 'node:net';
import { closeTogether, routes } from './peer-script.js';

for (const { listen, ports } of routes(process.argv.slice(2))) {
  let next = 0;
  const server = createServer({ noDelay: true }, (client) => {
    const port = ports[next++ % ports.length]!;
    const upstream = connect({ host: '127.0.0.1', port, noDelay: true });
    client.pipe(upstream).pipe(client);
    closeTogether(client, upstream);
  });
  server.listen({ host: '127.0.0.1', port: listen, backlog: 4096 });
}
process.on('SIGTERM', () => process.exit(0));
