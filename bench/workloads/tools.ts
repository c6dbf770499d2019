// External load tools (wrk, iperf3): finding them, running them bounded in time,
// and reading their output.
import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';

export async function which(cmd: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/bin', '/sbin'])) {
    if (!dir) continue;
    const p = `${dir}/${cmd}`;
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** runs a tool to completion; killed (by its PID) after timeoutMs */
export function runTool(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

export interface WrkResult {
  requests: number;
  durationS: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

function toMs(value: string, unit: string): number {
  const v = Number(value);
  switch (unit) {
    case 'us':
      return v / 1000;
    case 's':
      return v * 1000;
    case 'm':
      return v * 60_000;
    default:
      return v;
  }
}

/** reads `wrk --latency` output */
export function parseWrk(out: string): WrkResult {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(out);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!total || !rps) throw new Error(`unexpected wrk output: ${out.slice(0, 300)}`);
  const pct = (p: string): number => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)`, 'm').exec(out);
    return m ? toMs(m[1]!, m[2]!) : NaN;
  };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const errors = (sock ? [1, 2, 3, 4].reduce((n, i) => n + Number(sock[i]), 0) : 0) + (non2xx ? Number(non2xx[1]) : 0);
  return {
    requests: Number(total[1]),
    durationS: toMs(total[2]!, total[3]!) / 1000,
    rps: Number(rps[1]),
    p50Ms: pct('50'),
    p99Ms: pct('99'),
    errors,
  };
}

export interface IperfResult {
  bitsPerSecond: number;
  bytes: number;
}

/** reads `iperf3 -J` output: what the receiver got */
export function parseIperf3(json: string): IperfResult {
  const d = JSON.parse(json) as { error?: string; end?: { sum_received?: { bits_per_second: number; bytes: number } } };
  if (d.error) throw new Error(`iperf3: ${d.error}`);
  const r = d.end?.sum_received;
  if (!r) throw new Error('iperf3: no sum_received in its JSON');
  return { bitsPerSecond: r.bits_per_second, bytes: r.bytes };
}
