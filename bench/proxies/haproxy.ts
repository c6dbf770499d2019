// HAProxy `mode tcp` as the reference: one thread, round robin, no checks on the
// bulk backend, TCP checks on the HTTP ones (what a `mode tcp` setup runs), no log.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startChild, stopChild, waitPorts } from './child.js';
import { which } from '../workloads/tools.js';
import type { ProxyKind, ProxyPlan, RunningProxy } from './types.js';

export function haproxyConfig(plan: ProxyPlan): string {
  const servers = plan.httpBackends.map((p, i) => `  server b${i + 1} 127.0.0.1:${p} check inter 2s`).join('\n');
  return `global
  nbthread 1
  maxconn ${plan.maxConnections + 200}

defaults
  mode tcp
  timeout connect 2s
  timeout client 5m
  timeout server 5m

frontend http
  bind 127.0.0.1:${plan.httpPort}
  default_backend web

backend web
  balance roundrobin
${servers}

frontend bulk
  bind 127.0.0.1:${plan.bulkPort}
  default_backend bulk

backend bulk
  server bulk1 127.0.0.1:${plan.bulkBackend}
`;
}

export const haproxyKind: ProxyKind = {
  name: 'haproxy',
  async unavailable() {
    return (await which('haproxy')) ? undefined : 'haproxy is not installed (apt-get install -y haproxy)';
  },
  async start(plan: ProxyPlan): Promise<RunningProxy> {
    const file = join(plan.dir, 'haproxy.cfg');
    writeFileSync(file, haproxyConfig(plan));
    // -db: stay in the foreground, no master process: the pid is the one doing the work
    // by full path: /usr/sbin is not on every user's PATH
    const child = startChild((await which('haproxy')) ?? 'haproxy', ['-db', '-f', file], join(plan.dir, 'haproxy.log'));
    try {
      await waitPorts(child, [plan.httpPort, plan.bulkPort], 'haproxy');
    } catch (err) {
      await stopChild(child);
      throw err;
    }
    return {
      name: 'haproxy',
      pid: child.pid,
      httpPort: plan.httpPort,
      bulkPort: plan.bulkPort,
      stop: () => stopChild(child),
    };
  },
};
