// A Node proxy built below the stream layer, as far as net.Socket allows: the
// backend side reads into one reused buffer per connection (the `onread`
// option) and writes it on at once; the buffer is read into again only when
// that write completed synchronously (else a new one is taken and reading
// waits for the drain). No per-chunk closures, no timers. net.Server gives no
// `onread` for accepted sockets, so the client side reads with 'data' events.
// It measures what JavaScript below the stream layer reaches (docs/benchmarks.md).
// Usage: node onread-proxy-main.js LISTEN_PORT=BACKEND_PORT[,BACKEND_PORT...] ...
import { connect, createServer, type Socket } from 'node:net';
import { closeTogether, routes } from './peer-script.js';

const SIZE = 64 * 1024;

function relayBackend(client: Socket, port: number): Socket {
  let buf = Buffer.allocUnsafe(SIZE);
  const upstream: Socket = connect({
    host: '127.0.0.1',
    port,
    noDelay: true,
    onread: {
      buffer: () => buf,
      callback: (n: number): boolean => {
        client.write(buf.subarray(0, n));
        if (client.writableLength === 0) return true;
        // the write holds this buffer: the next read goes into another, after the drain
        buf = Buffer.allocUnsafe(SIZE);
        client.once('drain', () => upstream.resume());
        return false;
      },
    },
  });
  return upstream;
}

for (const { listen, ports } of routes(process.argv.slice(2))) {
  let next = 0;
  const server = createServer({ noDelay: true }, (client) => {
    const upstream = relayBackend(client, ports[next++ % ports.length]!);
    client.on('data', (d: Buffer) => {
      if (!upstream.write(d)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    closeTogether(client, upstream);
  });
  server.listen({ host: '127.0.0.1', port: listen, backlog: 4096 });
}
process.on('SIGTERM', () => process.exit(0));
