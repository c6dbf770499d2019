// Small tools for the edge tests: a config builder with edge keys, a client
// that tells "served" from "refused", a backend that parses the PROXY header it
// receives, a self-signed certificate made with openssl at test time, and
// helpers to find and run haproxy.
import net from 'node:net';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseProxyHeader, type ProxyHeader } from '../../daemon/data/edge/proxy-protocol.js';

export interface PoolSpec {
  name: string;
  backends: { name: string; port: number }[];
  extra?: string[];
}

/** TOML for one listener (with edge keys in `listener`, routes in `routes`) and its pools. */
export function edgeConfig(opts: {
  port: number;
  bindHost?: string;
  pool: string;
  listener?: string[];
  routes?: { sni?: string; protocol?: string; pool: string }[];
  pools: PoolSpec[];
  top?: string[];
  workers?: number;
}): string {
  const host = opts.bindHost ?? '127.0.0.1';
  const bind = host.includes(':') ? `[${host}]:${opts.port}` : `${host}:${opts.port}`;
  const lines = [
    `workers = ${opts.workers ?? 1}`,
    ...(opts.top ?? []),
    '[metrics]',
    'listen = "off"',
    '[control]',
    `socket = "/tmp/netmon-edge-${process.pid}-${opts.port}.sock"`,
    '[log]',
    'level = "info"',
    'access = true',
    '[[listener]]',
    'name = "edge"',
    `bind = "${bind}"`,
    `pool = "${opts.pool}"`,
    ...(opts.listener ?? []),
  ];
  for (const r of opts.routes ?? []) {
    lines.push('[[listener.route]]');
    if (r.sni) lines.push(`sni = "${r.sni}"`);
    if (r.protocol) lines.push(`protocol = "${r.protocol}"`);
    lines.push(`pool = "${r.pool}"`);
  }
  for (const p of opts.pools) {
    lines.push(
      `[pool.${p.name}]`,
      'retries = 1',
      'timeouts = { connect = "1s", idle = "30s" }',
      'health = { type = "none" }',
      ...(p.extra ?? []),
    );
    for (const b of p.backends)
      lines.push(`[[pool.${p.name}.backend]]`, `name = "${b.name}"`, `address = "127.0.0.1:${b.port}"`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Connect, send `first` (if any), and read the first line. Resolves with the
 * line, or null when the connection is closed without one (refused by netmon).
 */
export function firstLine(
  port: number,
  first?: Buffer | string,
  host = '127.0.0.1',
  timeoutMs = 5000,
): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ host, port });
    let buf = '';
    const timer = setTimeout(() => {
      c.destroy();
      reject(new Error(`no line and no close from ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    c.setEncoding('utf8');
    if (first !== undefined) c.write(first);
    c.on('data', (d: string) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i >= 0) {
        clearTimeout(timer);
        c.destroy();
        resolve(buf.slice(0, i));
      }
    });
    c.on('error', () => {});
    c.on('close', () => {
      clearTimeout(timer);
      resolve(null);
    });
  });
}

/** Open a connection and wait for the backend's greeting line; the socket stays open. */
export function openHeld(port: number, host = '127.0.0.1'): Promise<{ socket: net.Socket; line: string | null }> {
  return new Promise((resolve) => {
    const c = net.connect({ host, port });
    let buf = '';
    c.setEncoding('utf8');
    c.on('error', () => {});
    const onData = (d: string): void => {
      buf += d;
      if (buf.includes('\n')) {
        c.off('data', onData);
        resolve({ socket: c, line: buf.slice(0, buf.indexOf('\n')) });
      }
    };
    c.on('data', onData);
    c.on('close', () => resolve({ socket: c, line: null }));
  });
}

export interface ProxyBackend {
  port: number;
  /** headers received, in order */
  headers: ProxyHeader[];
  close(): Promise<void>;
}

/**
 * A backend that expects a PROXY header (parsed with netmon's own parser), then
 * answers "src <address> <port>\n" and echoes what follows.
 */
export async function startProxyBackend(): Promise<ProxyBackend> {
  const headers: ProxyHeader[] = [];
  const open = new Set<net.Socket>();
  const server = net.createServer((s) => {
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => {});
    let buf = Buffer.alloc(0);
    let done = false;
    s.on('data', (d: Buffer) => {
      if (done) {
        s.write(d);
        return;
      }
      buf = Buffer.concat([buf, d]);
      const r = parseProxyHeader(buf);
      if (r.status === 'incomplete') return;
      done = true;
      if (r.status === 'invalid') {
        s.end(`bad ${r.reason}\n`);
        return;
      }
      headers.push(r);
      s.write(`src ${r.source?.address ?? '-'} ${r.source?.port ?? '-'}\n`);
      if (buf.length > r.headerLength) s.write(buf.subarray(r.headerLength));
    });
  });
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    headers,
    close: () =>
      new Promise((r) => {
        for (const s of open) s.destroy();
        server.close(() => r());
      }),
  };
}

export function which(cmd: string): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = join(dir, cmd);
    if (existsSync(p)) return p;
  }
  return null;
}

/** haproxy's path, installing the Debian package when possible; null if unavailable. */
export function haproxyPath(): string | null {
  const have = which('haproxy');
  if (have) return have;
  try {
    execFileSync('apt-get', ['install', '-y', '-q', 'haproxy'], { stdio: 'ignore', timeout: 120_000 });
  } catch {
    return null;
  }
  return which('haproxy');
}

/** Run haproxy in the foreground with a config; resolves once it accepts on `port`. */
export async function startHaproxy(
  bin: string,
  config: string,
  port: number,
): Promise<{ proc: ChildProcess; stop(): Promise<void>; stderr: () => string }> {
  const dir = mkdtempSync(join(tmpdir(), 'netmon-haproxy-'));
  const file = join(dir, 'haproxy.cfg');
  execFileSync('sh', ['-c', `cat > "${file}"`], { input: config });
  execFileSync(bin, ['-c', '-q', '-f', file]);
  const proc = spawn(bin, ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const end = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((r) => {
      const c = net.connect({ host: '127.0.0.1', port }, () => {
        c.destroy();
        r(true);
      });
      c.on('error', () => r(false));
    });
    if (up) break;
    if (Date.now() > end || proc.exitCode !== null) throw new Error(`haproxy did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    proc,
    stderr: () => err,
    stop: () =>
      new Promise((r) => {
        if (proc.exitCode !== null) return r();
        proc.once('exit', () => {
          rmSync(dir, { recursive: true, force: true });
          r();
        });
        proc.kill('SIGTERM');
      }),
  };
}

/** A self-signed certificate for `cn` (with a subjectAltName), or null without openssl. */
export function selfSigned(cn: string): { key: Buffer; cert: Buffer } | null {
  if (!which('openssl')) return null;
  const dir = mkdtempSync(join(tmpdir(), 'netmon-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
        '-subj',
        `/CN=${cn}`,
        '-addext',
        `subjectAltName=DNS:${cn}`,
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore', timeout: 20_000 },
    );
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } catch {
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
