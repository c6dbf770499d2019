// IPv4 and IPv6 networks for allow / deny / trusted_proxies. A bare address is a
// single host (/32 or /128). Host bits must be zero: "10.0.0.1/8" is more often a
// mistake than a way to write 10.0.0.0/8.
import net from 'node:net';
import { canonicalIPv6 } from './address.js';
import type { Cidr } from './schema.js';

export type CidrResult = { ok: true; cidr: Cidr } | { ok: false; reason: string };

export function parseCidr(text: string): CidrResult {
  const s = text.trim();
  const slash = s.indexOf('/');
  const addr = slash < 0 ? s : s.slice(0, slash);
  const family = net.isIPv4(addr) ? 4 : net.isIPv6(addr) && !addr.includes('%') ? 6 : 0;
  if (family === 0)
    return { ok: false, reason: `"${text}" is not an IPv4 or IPv6 network like "10.0.0.0/8" or "2001:db8::/32"` };
  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) {
      return { ok: false, reason: `prefix "/${p}" in "${text}" must be 0..${max}` };
    }
    prefix = Number(p);
  }
  const bytes = family === 4 ? ipv4Bytes(addr) : ipv6Bytes(addr);
  const masked = maskBytes(bytes, prefix);
  const network = family === 4 ? masked.join('.') : canonicalIPv6(bytesToIPv6(masked));
  const written = family === 4 ? addr : canonicalIPv6(addr);
  if (network !== written) {
    return { ok: false, reason: `"${text}" has host bits set; did you mean "${network}/${prefix}"?` };
  }
  return { ok: true, cidr: { text: s, family, address: network, prefix } };
}

function ipv4Bytes(a: string): number[] {
  return a.split('.').map(Number);
}

function ipv6Bytes(a: string): number[] {
  // canonical form has no embedded IPv4 tail: "::ffff:1.2.3.4" becomes "::ffff:102:304"
  const text = canonicalIPv6(a);
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out: number[] = [];
  for (const g of groups) {
    const v = parseInt(g, 16);
    out.push(v >> 8, v & 0xff);
  }
  return out;
}

function bytesToIPv6(b: number[]): string {
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return g.join(':');
}

function maskBytes(bytes: number[], prefix: number): number[] {
  return bytes.map((v, i) => {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    return v & ((0xff << (8 - bits)) & 0xff);
  });
}
