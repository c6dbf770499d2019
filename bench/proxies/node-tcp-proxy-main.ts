// The npm node-tcp-proxy package as a peer, one proxy per route, quiet.
// Usage: node node-tcp-proxy-main.js LISTEN_PORT=BACKEND_PORT[,BACKEND_PORT...] ...
import { createRequire } from 'node:module';
import { routes } from './peer-script.js';

interface TcpProxyModule {
  createProxy(port: number, hosts: string[], ports: number[], options: { hostname: string; quiet: boolean }): unknown;
}

const require = createRequire(import.meta.url);
const { createProxy } = require('node-tcp-proxy') as TcpProxyModule;

for (const { listen, ports } of routes(process.argv.slice(2))) {
  createProxy(
    listen,
    ports.map(() => '127.0.0.1'),
    ports,
    { hostname: '127.0.0.1', quiet: true },
  );
}
process.on('SIGTERM', () => process.exit(0));
