// What the Node peer proxies run as scripts of their own share: their routes
// from the command line, and closing both sockets of a connection together.
import type { Socket } from 'node:net';

/** `LISTEN_PORT=BACKEND_PORT[,BACKEND_PORT...]` arguments: one route per listening port. */
export function routes(argv: readonly string[]): { listen: number; ports: number[] }[] {
  return argv.map((route) => {
    const [listen, backends] = route.split('=');
    return { listen: Number(listen), ports: (backends ?? '').split(',').map(Number) };
  });
}

/** An error or a close on either socket destroys both. */
export function closeTogether(client: Socket, upstream: Socket): void {
  const close = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
  client.on('close', close);
  upstream.on('close', close);
}
