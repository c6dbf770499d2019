// HTTP workloads: keep-alive request/response (autocannon and wrk), a new
// connection per request (wrk with "Connection: close"), and a paced run that
// checks the latency at a fixed request rate.
import { runTraffic } from '../traffic/index.js';
import { per10k, withCpu } from './cpu.js';
import { parseWrk, runTool, which } from './tools.js';
import type { Workload } from './types.js';

const CONNECTIONS = 50;

const wrkMissing = async (): Promise<string | undefined> =>
  (await which('wrk')) ? undefined : 'wrk is not installed (apt-get install -y wrk)';

export const keepAliveAutocannon: Workload = {
  name: 'keepalive-autocannon',
  title: `HTTP keep-alive, autocannon, ${CONNECTIONS} connections`,
  unavailable: () => Promise.resolve(undefined),
  async run(proxy, ctx) {
    const { result: s, cpuSeconds } = await withCpu(proxy.pid, () =>
      runTraffic({
        target: `127.0.0.1:${proxy.httpPort}`,
        durationMs: ctx.durationS * 1000,
        concurrent: CONNECTIONS,
        progress: 'none',
      }),
    );
    return {
      rps: s.rate,
      p50_ms: s.latencyMs.p50,
      p99_ms: s.latencyMs.p99,
      errors: s.errors,
      cpu_s_per_10k: per10k(cpuSeconds, s.requests),
    };
  },
};

async function wrk(port: number, durationS: number, extra: string[]): Promise<ReturnType<typeof parseWrk>> {
  const out = await runTool(
    'wrk',
    [
      '-t1',
      `-c${CONNECTIONS}`,
      `-d${durationS}s`,
      '--latency',
      '--timeout',
      '5s',
      ...extra,
      `http://127.0.0.1:${port}/`,
    ],
    (durationS + 20) * 1000,
  );
  return parseWrk(out);
}

export const keepAliveWrk: Workload = {
  name: 'keepalive-wrk',
  title: `HTTP keep-alive, wrk, ${CONNECTIONS} connections`,
  unavailable: wrkMissing,
  async run(proxy, ctx) {
    const { result: w, cpuSeconds } = await withCpu(proxy.pid, () => wrk(proxy.httpPort, ctx.durationS, []));
    return {
      rps: w.rps,
      p50_ms: w.p50Ms,
      p99_ms: w.p99Ms,
      errors: w.errors,
      cpu_s_per_10k: per10k(cpuSeconds, w.requests),
    };
  },
};

export const newConnection: Workload = {
  name: 'new-connection',
  title: `a new connection per request ("Connection: close"), ${CONNECTIONS} in flight`,
  unavailable: () => Promise.resolve(undefined),
  async run(proxy, ctx) {
    // wrk when installed (it leaves more CPU to the proxy); else the Node client
    if (!(await which('wrk'))) {
      const { result: s, cpuSeconds } = await withCpu(proxy.pid, () =>
        runTraffic({
          target: `127.0.0.1:${proxy.httpPort}`,
          durationMs: ctx.durationS * 1000,
          concurrent: CONNECTIONS,
          newConnection: true,
          progress: 'none',
        }),
      );
      return {
        cps: s.rate,
        p50_ms: s.latencyMs.p50,
        p99_ms: s.latencyMs.p99,
        errors: s.errors,
        cpu_s_per_10k: per10k(cpuSeconds, s.requests),
      };
    }
    const { result: w, cpuSeconds } = await withCpu(proxy.pid, () =>
      wrk(proxy.httpPort, ctx.durationS, ['-H', 'Connection: close']),
    );
    return {
      cps: w.rps,
      p50_ms: w.p50Ms,
      p99_ms: w.p99Ms,
      errors: w.errors,
      cpu_s_per_10k: per10k(cpuSeconds, w.requests),
    };
  },
};

/** requests per second per backend in the paced run (the latency target's load) */
const PACED_RATE_PER_BACKEND = 800;

export const paced: Workload = {
  name: 'paced',
  title: `HTTP keep-alive paced at ${PACED_RATE_PER_BACKEND} requests/s per backend`,
  unavailable: () => Promise.resolve(undefined),
  async run(proxy, ctx) {
    // the direct path reaches one backend, a proxy spreads over all of them
    const backends = proxy.pid === undefined ? 1 : ctx.httpBackends.length;
    const rate = PACED_RATE_PER_BACKEND * backends;
    const { result: s, cpuSeconds } = await withCpu(proxy.pid, () =>
      runTraffic({
        target: `127.0.0.1:${proxy.httpPort}`,
        durationMs: ctx.durationS * 1000,
        concurrent: 20,
        rate,
        progress: 'none',
      }),
    );
    return {
      rps: s.rate,
      p50_ms: s.latencyMs.p50,
      p99_ms: s.latencyMs.p99,
      errors: s.errors,
      cpu_s_per_10k: per10k(cpuSeconds, s.requests),
    };
  },
};
