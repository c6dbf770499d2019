// The demo: three simulated backends, the daemon on its embedded default config,
// a bounded stream of demo traffic, and `netmon top` in the foreground. Every
// child is ours, started here and stopped here by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

/** A netmon child: logging to a file, or (logFile null) on this terminal, keys included. */
function netmon(args: string[], logFile: string | null): ChildProcess {
  if (!logFile) return spawn(process.execPath, [MAIN, ...args], { stdio: 'inherit' });
  const out = openSync(logFile, 'a');
  return spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', out, out] });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port });
    c.on('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.on('error', () => resolve(false));
  });
}

async function waitPort(port: number, ms: number, child: ChildProcess, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`${what} exited (code ${child.exitCode}); see its log`);
    if (await portOpen(port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not open 127.0.0.1:${port} within ${ms} ms`);
}

export async function runDemo(opts: { top: boolean; rate: number; minutes: number }): Promise<number> {
  const { DEFAULT_CONFIG_TOML } = await import('../daemon/config/default.js');
  const { parseConfig } = await import('../daemon/config/load.js');
  const config = parseConfig(DEFAULT_CONFIG_TOML, '<embedded default>');
  const listener = config.listeners[0]!;
  const ports = config.pools[0]!.backends.map((b: { address: { port: number } }) => b.address.port);
  for (const p of [listener.bind.port, ...ports]) {
    if (await portOpen(p)) {
      process.stderr.write(`netmon demo: 127.0.0.1:${p} is already in use; stop whatever listens there first\n`);
      return 1;
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'netmon-demo-'));
  const children: ChildProcess[] = [];
  const stopAll = (): void => {
    for (const c of [...children].reverse()) if (c.exitCode === null && c.pid) c.kill('SIGTERM');
  };
  process.on('exit', stopAll);
  try {
    process.stderr.write(`netmon demo: logs in ${dir}\n`);
    const backends = netmon(
      ['backends', '--count', String(ports.length), '--base-port', String(ports[0])],
      join(dir, 'backends.log'),
    );
    children.push(backends);
    for (const p of ports) await waitPort(p, 10_000, backends, 'simulated backends');
    const daemon = netmon(['daemon'], join(dir, 'daemon.log'));
    children.push(daemon);
    await waitPort(listener.bind.port, 15_000, daemon, 'netmon daemon');
    const target = `${listener.bind.host}:${listener.bind.port}`;
    const traffic = netmon(
      // a new connection per request, so the dashboard's connection rates move
      [
        'traffic',
        '--target',
        target,
        '--rate',
        String(opts.rate),
        '--duration',
        `${opts.minutes}m`,
        '--concurrent',
        '4',
        '--new-connection',
        '--progress',
        'none',
      ],
      join(dir, 'traffic.log'),
    );
    children.push(traffic);
    process.stderr.write(
      `netmon demo: backends on ${ports.join(', ')}, netmon on ${target}, metrics on ${config.metrics.listen?.text ?? 'off'}\n`,
    );
    if (!opts.top) {
      process.stderr.write('netmon demo: running; Ctrl-C stops everything\n');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      return 0;
    }
    const top = netmon(['top', '--socket', config.control.socket], null);
    const code = await new Promise<number>((resolve) => top.on('exit', (c) => resolve(c ?? 0)));
    return code;
  } catch (err) {
    process.stderr.write(`netmon demo: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    stopAll();
  }
}
