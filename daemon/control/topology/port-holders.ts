// Who else listens on an address: the listening TCP sockets of this network
// namespace (/proc/net/tcp and /proc/net/tcp6, proc(5)) whose local address
// overlaps it, less the sockets this process holds (/proc/self/fd). The kernel
// lets any program of the same user join a SO_REUSEPORT group silently; this
// is how netmon tells a port it owns from one another program holds.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { endianness } from 'node:os';
import { formatIp, parseIp, type IpAddress } from '../../net/ip.js';

/** st column of a listening socket (include/net/tcp_states.h: TCP_LISTEN = 10) */
const TCP_LISTEN = '0A';

interface Listening {
  ip: IpAddress;
  port: number;
  inode: string;
}

/**
 * Local addresses ("0.0.0.0:8080", "[::]:8080") of the listening sockets that
 * overlap `host`:`port` and belong to another process. Overlap follows bind(2)
 * on Linux: the same address, or either one a wildcard (0.0.0.0 covers IPv4,
 * :: covers both families, since an IPv6-only flag is not visible here).
 * Returns null when /proc cannot be read (the caller cannot tell).
 */
export function foreignListeners(host: string, port: number): string[] | null {
  const target = parseIp(host.split('%')[0]!);
  let listening: Listening[];
  try {
    listening = [...readTable('/proc/net/tcp', 4), ...readTable('/proc/net/tcp6', 6)];
  } catch {
    return null;
  }
  const overlapping = listening.filter((l) => l.port === port && (target === null || overlaps(target, l.ip)));
  if (overlapping.length === 0) return [];
  const own = ownSocketInodes();
  if (own === null) return null;
  const out = new Set<string>();
  for (const l of overlapping) {
    if (own.has(l.inode)) continue;
    const ip = formatIp(l.ip);
    out.add(l.ip.family === 6 ? `[${ip}]:${l.port}` : `${ip}:${l.port}`);
  }
  return [...out];
}

function readTable(path: string, family: 4 | 6): Listening[] {
  const out: Listening[] = [];
  const lines = readFileSync(path, 'latin1').split('\n');
  for (let i = 1; i < lines.length; i++) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    const f = lines[i]!.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== TCP_LISTEN) continue;
    const [addr, portHex] = f[1]!.split(':');
    const ip = decode(addr!, family);
    if (ip === null) continue;
    out.push({ ip, port: parseInt(portHex!, 16), inode: f[9]! });
  }
  return out;
}

/** The kernel prints each 32-bit word of the address in host byte order. */
function decode(hex: string, family: 4 | 6): IpAddress | null {
  if (hex.length !== (family === 4 ? 8 : 32)) return null;
  const bytes: number[] = [];
  const little = endianness() === 'LE';
  for (let w = 0; w < hex.length; w += 8) {
    const word = [0, 2, 4, 6].map((o) => parseInt(hex.slice(w + o, w + o + 2), 16));
    bytes.push(...(little ? word.reverse() : word));
  }
  // an IPv4-mapped IPv6 address is its IPv4 address (net/ip.ts: one address space)
  const mapped = family === 6 && bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 && bytes[11] === 255;
  return mapped ? { family: 4, bytes: bytes.slice(12) } : { family, bytes };
}

function isAny(ip: IpAddress): boolean {
  return ip.bytes.every((b) => b === 0);
}

function overlaps(a: IpAddress, b: IpAddress): boolean {
  if ((a.family === 6 && isAny(a)) || (b.family === 6 && isAny(b))) return true;
  if (a.family !== b.family) return false;
  return isAny(a) || isAny(b) || a.bytes.every((x, i) => x === b.bytes[i]);
}

/** Inode numbers of the sockets this process (every thread) has open, or null when /proc/self/fd cannot be read. */
function ownSocketInodes(): Set<string> | null {
  const own = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync('/proc/self/fd');
  } catch {
    return null;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) own.add(m[1]!);
    } catch {
      // closed since the directory was read
    }
  }
  return own;
}
