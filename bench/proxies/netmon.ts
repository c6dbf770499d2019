// netmon under test: a temp TOML config and `netmon daemon -c FILE` as a child.
// One worker (against HAProxy nbthread 1), every feature on that production runs
// with (HTTP health checks, passive checks, metrics port), access log off.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NETMON_MAIN, startChild, stopChild, waitPorts } from './child.js';
import type { ProxyKind, ProxyPlan, RunningProxy } from './types.js';

export interface NetmonOptions {
  workers?: number;
  algorithm?: string;
  /** write V8 CPU profiles of the daemon (all threads) into this directory */
  cpuProfDir?: string;
  /** name JIT-compiled JavaScript for `perf` (node --perf-basic-prof: /tmp/perf-PID.map) */
  perfMap?: boolean;
  /** health check of the HTTP pool; default http /health every 2 s */
  health?: string;
  metricsPort?: number;
  /** [data] relay (default "native": the relay netmon ships with; "js": Node sockets) */
  relay?: 'native' | 'js';
  /** the HTTP pool's backend addresses; default "127.0.0.1:PORT" (a name makes the pool a DNS source) */
  backendAddress?: (port: number, i: number) => string;
  /** TOML sections added at the end ([resolvers], ...) */
  extra?: string;
}

export function netmonConfig(plan: ProxyPlan, o: NetmonOptions = {}): string {
  const lines = [
    `workers = ${o.workers ?? 1}`,
    'drain_timeout = "1s"',
    '[data]',
    `relay = "${o.relay ?? 'native'}"`,
    '[control]',
    `socket = "${join(plan.dir, 'netmon.sock')}"`,
    '[metrics]',
    `listen = "${o.metricsPort ? `127.0.0.1:${o.metricsPort}` : 'off'}"`,
    '[log]',
    'level = "warn"',
    'access = false',
    '[[listener]]',
    'name = "http"',
    `bind = "127.0.0.1:${plan.httpPort}"`,
    'pool = "web"',
    `max_connections = ${plan.maxConnections + 1000}`,
    'backlog = 4096',
    '[[listener]]',
    'name = "bulk"',
    `bind = "127.0.0.1:${plan.bulkPort}"`,
    'pool = "bulk"',
    '[pool.web]',
    `algorithm = "${o.algorithm ?? 'round_robin'}"`,
    'retries = 2',
    'timeouts = { connect = "2s", idle = "5m" }',
    `health = ${o.health ?? '{ type = "http", path = "/health", expect_status = 200, interval = "2s", timeout = "1s", rise = 1, fall = 3 }'}`,
  ];
  const address = o.backendAddress ?? ((port: number) => `127.0.0.1:${port}`);
  plan.httpBackends.forEach((port, i) => {
    lines.push('[[pool.web.backend]]', `name = "b${i + 1}"`, `address = "${address(port, i)}"`);
  });
  // iperf3 takes every connection as a test: a health probe would disturb a running one
  lines.push('[pool.bulk]', 'algorithm = "round_robin"', 'health = { type = "none" }');
  lines.push('[[pool.bulk.backend]]', 'name = "bulk1"', `address = "127.0.0.1:${plan.bulkBackend}"`);
  if (o.extra) lines.push(o.extra);
  return lines.join('\n') + '\n';
}

export function netmonKind(o: NetmonOptions = {}, name = 'netmon'): ProxyKind {
  return {
    name,
    unavailable: () => Promise.resolve(undefined),
    async start(plan: ProxyPlan): Promise<RunningProxy> {
      const file = join(plan.dir, `${name}.toml`);
      writeFileSync(file, netmonConfig(plan, o));
      const node = o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`] : [];
      if (o.perfMap) node.push('--perf-basic-prof');
      const child = startChild(
        process.execPath,
        [...node, NETMON_MAIN, 'daemon', '-c', file],
        join(plan.dir, `${name}.log`),
      );
      try {
        await waitPorts(child, [plan.httpPort, plan.bulkPort], name);
      } catch (err) {
        await stopChild(child);
        throw err;
      }
      return {
        name,
        pid: child.pid,
        httpPort: plan.httpPort,
        bulkPort: plan.bulkPort,
        stop: () => stopChild(child, 15_000),
      };
    },
  };
}
