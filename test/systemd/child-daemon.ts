// `bin/netmon daemon -c FILE` as a real child process, as systemd runs it: for
// the tests of signals (SIGHUP reload, SIGTERM drain) and sd_notify.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from '../../daemon/control/socket/client.js';
import { waitFor } from '../helpers/servers.js';

/** repository root: dist/test/systemd/ -> ../../.. */
export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const NETMON = join(ROOT, 'bin', 'netmon');

export interface ChildDaemon {
  child: ChildProcess;
  dir: string;
  configPath: string;
  sock: string;
  stdout: string[];
  stderr: string[];
  /** resolves with the exit code (or the signal name) */
  exited: Promise<number | string>;
  writeConfig(toml: string): void;
  ctl(cmd: string, args?: Record<string, unknown>): Promise<unknown>;
  /** ends the child if a test left it running, removes its directory */
  cleanup(): Promise<void>;
}

/** The TOML of one listener in front of the given backends; the control socket goes in `sock`. */
export function childConfig(o: {
  sock: string;
  listenPort: number;
  backends: { name: string; port: number; weight?: number }[];
  drainTimeout?: string;
  workers?: number;
}): string {
  const lines = [
    `workers = ${o.workers ?? 1}`,
    `drain_timeout = "${o.drainTimeout ?? '10s'}"`,
    '[metrics]',
    'listen = "off"',
    '[control]',
    `socket = ${JSON.stringify(o.sock)}`,
    '[log]',
    'level = "info"',
    '[[listener]]',
    'name = "main"',
    `bind = "127.0.0.1:${o.listenPort}"`,
    'pool = "web"',
    '[pool.web]',
    'algorithm = "weighted_round_robin"',
    'retries = 2',
    'timeouts = { connect = "1s", idle = "30s" }',
    'health = { type = "none" }',
  ];
  for (const b of o.backends) {
    lines.push(
      '[[pool.web.backend]]',
      `name = "${b.name}"`,
      `address = "127.0.0.1:${b.port}"`,
      `weight = ${b.weight ?? 1}`,
    );
  }
  return lines.join('\n') + '\n';
}

/**
 * `wrap`: a command the daemon runs under, its arguments first
 * (["prlimit", "--nofile=256", "--"]); it must exec the daemon in its place.
 */
export async function startChildDaemon(
  makeConfig: (sock: string) => string,
  env: NodeJS.ProcessEnv = {},
  wrap: string[] = [],
): Promise<ChildDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'netmon-child-'));
  const sock = join(dir, 'netmon.sock');
  const configPath = join(dir, 'netmon.toml');
  writeFileSync(configPath, makeConfig(sock));
  const argv = [...wrap, NETMON, 'daemon', '-c', configPath];
  const child = spawn(argv[0]!, argv.slice(1), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => stdout.push(d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
  let done = false;
  const exited = new Promise<number | string>((r) =>
    child.once('exit', (code, signal) => {
      done = true;
      r(code ?? signal ?? -1);
    }),
  );
  const d: ChildDaemon = {
    child,
    dir,
    configPath,
    sock,
    stdout,
    stderr,
    exited,
    writeConfig: (toml) => writeFileSync(configPath, toml),
    ctl: (cmd, args = {}) => request(sock, cmd, args, { timeoutMs: 15_000 }),
    cleanup: async () => {
      if (!done) {
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitFor(
      async () => {
        if (done) throw new Error(`the daemon exited early: ${stderr.join('')}`);
        // the control socket answers first; "netmon started" is logged once every listener is open
        return stdout.join('').includes('"msg":"netmon started"');
      },
      15_000,
      'the child daemon to open its listeners',
    );
  } catch (err) {
    await d.cleanup();
    throw err;
  }
  return d;
}
