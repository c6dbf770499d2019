// Bulk transfer through the proxy, 1 and 4 parallel streams: Gbit/s and the
// proxy's CPU seconds per GB moved. With iperf3 (against `iperf3 -s`); without
// it, raw TCP: each stream writes 64 KiB chunks into a sink-mode backend for the
// run's duration, honouring backpressure, and the rate counts bytes the kernel took.
import { connect } from 'node:net';
import { withCpu } from './cpu.js';
import { parseIperf3, runTool, which, type IperfResult } from './tools.js';
import type { Workload } from './types.js';

const CHUNK = Buffer.alloc(64 * 1024, 'netmon-bulk ');

/** writes for `seconds` over `streams` connections; bytes written and the rate */
export async function rawBulk(port: number, streams: number, seconds: number): Promise<IperfResult> {
  const started = performance.now();
  const end = started + seconds * 1000;
  const one = (): Promise<number> =>
    new Promise((resolve, reject) => {
      let written = 0;
      const s = connect({ host: '127.0.0.1', port });
      const pump = (): void => {
        while (performance.now() < end) {
          written += CHUNK.length;
          if (!s.write(CHUNK)) {
            s.once('drain', pump);
            return;
          }
        }
        s.end();
      };
      s.once('connect', pump);
      s.once('error', reject);
      // the sink ends its side after ours: the bytes have all been read by then
      s.once('close', () => resolve(written - s.writableLength));
      s.resume();
    });
  const totals = await Promise.all(Array.from({ length: streams }, one));
  const bytes = totals.reduce((a, b) => a + b, 0);
  const elapsed = (performance.now() - started) / 1000;
  return { bytes, bitsPerSecond: (bytes * 8) / elapsed };
}

function bulk(streams: number): Workload {
  const plural = streams > 1 ? 's' : '';
  return {
    name: `bulk-${streams}`,
    title: `bulk transfer, ${streams} stream${plural}`,
    unavailable: () => Promise.resolve(undefined),
    async run(proxy, ctx) {
      const seconds = Math.max(1, Math.round(ctx.durationS));
      const iperf = await which('iperf3');
      const { result: r, cpuSeconds } = await withCpu(proxy.pid, async () =>
        iperf
          ? parseIperf3(
              await runTool(
                'iperf3',
                ['-c', '127.0.0.1', '-p', String(proxy.bulkPort), '-t', String(seconds), '-P', String(streams), '-J'],
                (seconds + 20) * 1000,
              ),
            )
          : rawBulk(proxy.bulkPort, streams, seconds),
      );
      const gb = r.bytes / 1e9;
      return { gbps: r.bitsPerSecond / 1e9, cpu_s_per_gb: gb > 0 ? cpuSeconds / gb : NaN };
    },
  };
}

export const bulk1 = bulk(1);
export const bulk4 = bulk(4);
