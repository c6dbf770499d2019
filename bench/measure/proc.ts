// What a proxy process costs, read from /proc: CPU seconds (user + system, all
// threads) and resident memory, for a process and its descendants (nginx's work is
// done in its worker processes, not the master).
import { readFileSync, readdirSync } from 'node:fs';

/** USER_HZ: the unit of utime/stime in /proc/PID/stat; 100 on every Linux port in use */
const CLOCK_TICKS = 100;

export interface ProcStat {
  pid: number;
  ppid: number;
  /** user + system, seconds */
  cpuSeconds: number;
}

/**
 * Parses one /proc/PID/stat line. The command name (field 2) is in parentheses and
 * may itself hold spaces or parentheses, so fields are counted after the last ")".
 */
export function parseProcStat(line: string): ProcStat {
  const close = line.lastIndexOf(')');
  const pid = Number(line.slice(0, line.indexOf(' ')));
  const rest = line.slice(close + 2).split(' ');
  // rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15
  const ppid = Number(rest[1]);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(pid) || !Number.isFinite(utime) || !Number.isFinite(stime)) {
    throw new Error(`not a /proc/PID/stat line: ${line.slice(0, 80)}`);
  }
  return { pid, ppid, cpuSeconds: (utime + stime) / CLOCK_TICKS };
}

function readProcStat(pid: number, root = '/proc'): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`${root}/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** pid and all its descendants that are alive now */
export function processTree(pid: number, root = '/proc'): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync(root)) {
    if (!/^\d+$/.test(name)) continue;
    const s = readProcStat(Number(name), root);
    if (!s) continue;
    const list = children.get(s.ppid) ?? [];
    list.push(s.pid);
    children.set(s.ppid, list);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    out.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return out;
}

/** CPU seconds used so far by pid and its descendants */
export function treeCpuSeconds(pid: number, root = '/proc'): number {
  let total = 0;
  for (const p of processTree(pid, root)) total += readProcStat(p, root)?.cpuSeconds ?? 0;
  return total;
}

/** VmRSS in bytes from /proc/PID/status text */
export function parseRssBytes(status: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/** resident memory of pid and its descendants, bytes */
export function treeRssBytes(pid: number, root = '/proc'): number {
  let total = 0;
  for (const p of processTree(pid, root)) {
    try {
      total += parseRssBytes(readFileSync(`${root}/${p}/status`, 'utf8'));
    } catch {
      // exited between the listing and the read
    }
  }
  return total;
}
