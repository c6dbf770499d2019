// tcp: healthy when a connection is accepted within the timeout.
import net from 'node:net';
import { guardProbe } from './probe-guard.js';
import type { Probe, TcpCheck } from './probe-types.js';

export const probeTcp: Probe<TcpCheck> = (target, check, signal) =>
  guardProbe(check.timeout, signal, (s) => {
    const sock = net.connect({ host: target.host, port: target.port });
    sock.on('connect', () => s.finish(true, 'connected'));
    sock.on('error', (err) => s.fail(err));
    return () => sock.destroy();
  });
