// The shared setup of a bench run: the simulated HTTP backends, the bulk backend
// (iperf3 -s, or a sink-mode backend when iperf3 is missing), each one child
// process; free ports; a scratch directory.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { NETMON_MAIN, freePorts, startChild, stopChild, waitPorts } from './proxies/child.js';
import { which } from './workloads/tools.js';

export interface BenchEnvironment {
  dir: string;
  httpBackends: number[];
  bulkBackend: number;
  /** the backends' process, for its CPU */
  backendsPid: number | undefined;
  children: ChildProcess[];
  stop(): Promise<void>;
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** consecutive free ports for `netmon backends --base-port`, below the usual ephemeral range */
async function freeRun(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 12_000 + Math.floor(Math.random() * 18_000);
    let free = true;
    for (let p = base; p < base + count && free; p++) free = await canBind(p);
    if (free) return base;
  }
  throw new Error('no run of free ports found');
}

export async function startEnvironment(
  opts: { backends: number; flags?: string[]; iperf: boolean },
  log: (line: string) => void,
): Promise<BenchEnvironment> {
  const dir = mkdtempSync(join(tmpdir(), 'netmon-bench-'));
  const children: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(children.map((c) => stopChild(c)));
  };
  try {
    const base = await freeRun(opts.backends);
    const httpBackends = Array.from({ length: opts.backends }, (_, i) => base + i);
    const backends = startChild(
      process.execPath,
      [NETMON_MAIN, 'backends', '--count', String(opts.backends), '--base-port', String(base), ...(opts.flags ?? [])],
      join(dir, 'backends.log'),
    );
    children.push(backends);
    await waitPorts(backends, httpBackends, 'netmon backends');
    let bulkBackend = 0;
    if (opts.iperf && (await which('iperf3'))) {
      [bulkBackend] = await freePorts(1);
      const iperf = startChild(
        (await which('iperf3'))!,
        ['-s', '-p', String(bulkBackend), '-B', '127.0.0.1'],
        join(dir, 'iperf3.log'),
      );
      children.push(iperf);
      await waitPorts(iperf, [bulkBackend], 'iperf3 -s');
    } else if (opts.iperf) {
      // no iperf3: the bulk workload writes into a simulated backend in sink mode
      bulkBackend = await freeRun(1);
      const sink = startChild(
        process.execPath,
        [NETMON_MAIN, 'backends', '--count', '1', '--base-port', String(bulkBackend), '--mode', 'sink'],
        join(dir, 'sink.log'),
      );
      children.push(sink);
      await waitPorts(sink, [bulkBackend], 'netmon backends --mode sink');
    } else {
      // something must listen there for the proxies' bulk listener to point at
      [bulkBackend] = await freePorts(1);
    }
    log(`backends on ${httpBackends.join(', ')}${bulkBackend ? `, bulk on ${bulkBackend}` : ''}; scratch ${dir}`);
    return { dir, httpBackends, bulkBackend: bulkBackend!, backendsPid: backends.pid, children, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
