// Node peers: the minimal pipe proxy written here, and the npm node-tcp-proxy package.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startChild, stopChild, waitPorts } from './child.js';
import type { ProxyKind, ProxyPlan, RunningProxy } from './types.js';

function routes(plan: ProxyPlan): string[] {
  return [`${plan.httpPort}=${plan.httpBackends.join(',')}`, `${plan.bulkPort}=${plan.bulkBackend}`];
}

function nodeScriptKind(name: string, script: string, unavailable: () => string | undefined): ProxyKind {
  return {
    name,
    unavailable: () => Promise.resolve(unavailable()),
    async start(plan: ProxyPlan): Promise<RunningProxy> {
      const main = fileURLToPath(new URL(script, import.meta.url));
      const child = startChild(process.execPath, [main, ...routes(plan)], join(plan.dir, `${name}.log`));
      try {
        await waitPorts(child, [plan.httpPort, plan.bulkPort], name);
      } catch (err) {
        await stopChild(child);
        throw err;
      }
      return { name, pid: child.pid, httpPort: plan.httpPort, bulkPort: plan.bulkPort, stop: () => stopChild(child) };
    },
  };
}

export const pipeProxyKind = nodeScriptKind('node-pipe', './pipe-proxy-main.js', () => undefined);

/** JavaScript below the stream layer (onread into a reused buffer): what that design reaches */
export const onreadProxyKind = nodeScriptKind('node-onread', './onread-proxy-main.js', () => undefined);

export const nodeTcpProxyKind = nodeScriptKind('node-tcp-proxy', './node-tcp-proxy-main.js', () => {
  try {
    createRequire(import.meta.url).resolve('node-tcp-proxy');
    return undefined;
  } catch {
    return 'the npm package node-tcp-proxy is not installed (npm install)';
  }
});

/** no proxy: the workloads go straight to the first backend, the limit of this machine */
export const directKind: ProxyKind = {
  name: 'direct',
  unavailable: () => Promise.resolve(undefined),
  start(plan: ProxyPlan): Promise<RunningProxy> {
    return Promise.resolve({
      name: 'direct',
      pid: undefined,
      httpPort: plan.httpBackends[0]!,
      bulkPort: plan.bulkBackend,
      stop: () => Promise.resolve(),
    });
  },
};
