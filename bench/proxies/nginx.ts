// nginx `stream {}` as the second reference: one worker process, round robin.
// The master stays in the foreground as our child; the worker is measured as part
// of its process tree.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startChild, stopChild, waitPorts } from './child.js';
import { which } from '../workloads/tools.js';
import type { ProxyKind, ProxyPlan, RunningProxy } from './types.js';

const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

export function nginxConfig(plan: ProxyPlan, withModule: boolean): string {
  const servers = plan.httpBackends.map((p) => `    server 127.0.0.1:${p};`).join('\n');
  return `${withModule ? `load_module ${STREAM_MODULE};\n` : ''}daemon off;
worker_processes 1;
worker_rlimit_nofile ${2 * plan.maxConnections + 400};
pid ${join(plan.dir, 'nginx.pid')};
error_log ${join(plan.dir, 'nginx-error.log')} warn;
events {
  worker_connections ${2 * plan.maxConnections + 200};
}
stream {
  upstream web {
${servers}
  }
  upstream bulk {
    server 127.0.0.1:${plan.bulkBackend};
  }
  server {
    listen 127.0.0.1:${plan.httpPort} backlog=4096;
    proxy_pass web;
    proxy_connect_timeout 2s;
    proxy_timeout 5m;
  }
  server {
    listen 127.0.0.1:${plan.bulkPort};
    proxy_pass bulk;
    proxy_timeout 5m;
  }
}
`;
}

export const nginxKind: ProxyKind = {
  name: 'nginx',
  async unavailable() {
    if (!(await which('nginx'))) return 'nginx is not installed (apt-get install -y nginx libnginx-mod-stream)';
    return undefined;
  },
  async start(plan: ProxyPlan): Promise<RunningProxy> {
    const file = join(plan.dir, 'nginx.conf');
    writeFileSync(file, nginxConfig(plan, existsSync(STREAM_MODULE)));
    // by full path: /usr/sbin is not on every user's PATH
    const child = startChild(
      (await which('nginx')) ?? 'nginx',
      ['-p', plan.dir, '-c', file],
      join(plan.dir, 'nginx.log'),
    );
    try {
      await waitPorts(child, [plan.httpPort, plan.bulkPort], 'nginx');
    } catch (err) {
      await stopChild(child);
      throw err;
    }
    return {
      name: 'nginx',
      pid: child.pid,
      httpPort: plan.httpPort,
      bulkPort: plan.bulkPort,
      stop: () => stopChild(child),
    };
  },
};
