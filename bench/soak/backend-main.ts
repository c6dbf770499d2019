// A soak backend, one process each (so that it can be killed or stopped): it
// echoes what a client sends and ends when the client ends; a connection that
// opens with "GET /health" gets an HTTP 200 and is closed, for the daemon's
// http checks. argv: port (0 = any); tells its parent the port over IPC.
import net from 'node:net';

const HEALTH = Buffer.from('GET /health');
const OK = 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok';

const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (c) => {
  c.on('error', () => {});
  c.once('data', (first: Buffer) => {
    if (first.subarray(0, HEALTH.length).equals(HEALTH)) {
      c.end(OK);
      return;
    }
    c.write(first);
    c.pipe(c);
  });
  c.on('end', () => c.end());
});
server.listen({ host: '127.0.0.1', port: Number(process.argv[2] ?? 0), backlog: 4096 }, () => {
  process.send?.({ type: 'listening', port: (server.address() as net.AddressInfo).port });
});
process.on('disconnect', () => process.exit(0));
