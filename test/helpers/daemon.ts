// Runs a real daemon (real worker threads, real sockets) inside the test process,
// from TOML text, so tests can read its snapshot and drive it directly.
import { Daemon } from '../../daemon/control/daemon.js';
import { parseConfig } from '../../daemon/config/load.js';
import { setLogSink } from '../../daemon/log.js';

export interface TestDaemon {
  daemon: Daemon;
  /** swap the TOML the next reload reads */
  setConfigText(text: string): void;
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

export async function startTestDaemon(toml: string): Promise<TestDaemon> {
  const logs: Record<string, unknown>[] = [];
  setLogSink((line) => {
    try {
      logs.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // not JSON: ignore
    }
  });
  let text = toml;
  const load = () => parseConfig(text, 'test.toml');
  const daemon = new Daemon(load(), { configPath: null, load });
  await daemon.start();
  return {
    daemon,
    logs,
    setConfigText: (t) => {
      text = t;
    },
    stop: () => daemon.stop(false),
  };
}

/** The TOML for one listener on a free port in front of the given backends. */
export function simpleConfig(opts: {
  listenPort: number;
  backends: { name: string; port: number; weight?: number; backup?: boolean; maxConnections?: number }[];
  algorithm?: string;
  workers?: number;
  health?: string;
  pool?: string;
  extraPool?: string;
  extraTop?: string;
}): string {
  const pool = opts.pool ?? 'web';
  const lines = [
    `workers = ${opts.workers ?? 2}`,
    opts.extraTop ?? '',
    // child daemons (bin/netmon daemon) would otherwise all bind the default 9469
    '[metrics]',
    'listen = "off"',
    '[control]',
    `socket = "/tmp/netmon-test-${process.pid}-${opts.listenPort}.sock"`,
    '[log]',
    'level = "debug"',
    '[[listener]]',
    'name = "main"',
    `bind = "127.0.0.1:${opts.listenPort}"`,
    `pool = "${pool}"`,
    `[pool.${pool}]`,
    `algorithm = "${opts.algorithm ?? 'round_robin'}"`,
    'retries = 2',
    `timeouts = { connect = "1s", idle = "30s" }`,
    `health = ${opts.health ?? '{ type = "none" }'}`,
    opts.extraPool ?? '',
  ];
  for (const b of opts.backends) {
    lines.push(
      `[[pool.${pool}.backend]]`,
      `name = "${b.name}"`,
      `address = "127.0.0.1:${b.port}"`,
      `weight = ${b.weight ?? 1}`,
      `backup = ${b.backup ?? false}`,
      `max_connections = ${b.maxConnections ?? 0}`,
    );
  }
  return lines.join('\n') + '\n';
}
