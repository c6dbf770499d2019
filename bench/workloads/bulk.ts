// Bulk transfer through the proxy with iperf3 (1 and 4 parallel streams): Gbit/s
// and the proxy's CPU seconds per GB moved.
import { withCpu } from './cpu.js';
import { parseIperf3, runTool, which } from './tools.js';
import type { Workload } from './types.js';

function bulk(streams: number): Workload {
  return {
    name: `bulk-${streams}`,
    title: `bulk transfer, iperf3, ${streams} stream${streams > 1 ? 's' : ''}`,
    async unavailable() {
      return (await which('iperf3')) ? undefined : 'iperf3 is not installed (apt-get install -y iperf3)';
    },
    async run(proxy, ctx) {
      const seconds = Math.max(1, Math.round(ctx.durationS));
      const { result: r, cpuSeconds } = await withCpu(proxy.pid, async () =>
        parseIperf3(
          await runTool(
            'iperf3',
            ['-c', '127.0.0.1', '-p', String(proxy.bulkPort), '-t', String(seconds), '-P', String(streams), '-J'],
            (seconds + 20) * 1000,
          ),
        ),
      );
      const gb = r.bytes / 1e9;
      return { gbps: r.bitsPerSecond / 1e9, cpu_s_per_gb: gb > 0 ? cpuSeconds / gb : NaN };
    },
  };
}

export const bulk1 = bulk(1);
export const bulk4 = bulk(4);
