// host:port parsing. IPv6 literals are bracketed ("[::1]:80") so the port is never
// ambiguous; names are allowed only where the caller says so (backends). IP
// literals are read by net/ip.ts, the one address parser.
import { formatIp, parseIp } from '../net/ip.js';
import type { Address } from './schema.js';

export interface AddressRules {
  /** accept a DNS name as host (backends); binds need an IP literal */
  allowName: boolean;
  /** accept port 0 (binds: the kernel picks a free port) */
  allowPortZero: boolean;
}

export type AddressResult =
  { ok: true; address: Address } | { ok: false; code: 'E_ADDRESS' | 'E_PORT_RANGE'; reason: string };

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;
/** an interface name after "%" in a link-local bind ("fe80::1%eth0") */
const ZONE = /^[A-Za-z0-9_.-]{1,15}$/;

function isHostname(s: string): boolean {
  if (s.length === 0 || s.length > 253) return false;
  const labels = s.endsWith('.') ? s.slice(0, -1).split('.') : s.split('.');
  // an all-numeric dotted name is a mistyped IPv4 address, not a host name
  if (labels.every((l) => /^\d+$/.test(l))) return false;
  return labels.every((l) => LABEL.test(l));
}

/** An IPv6 literal with an optional zone ("fe80::1%eth0"), as the text between brackets. */
function isIPv6Literal(host: string): boolean {
  const pct = host.indexOf('%');
  const bare = pct < 0 ? host : host.slice(0, pct);
  if (pct >= 0 && !ZONE.test(host.slice(pct + 1))) return false;
  return bare.includes(':') && parseIp(bare) !== null;
}

/**
 * "host:port" -> Address. Errors: E_ADDRESS (not host:port, a name where an IP
 * literal is needed, IPv6 without brackets), E_PORT_RANGE (port outside the rules).
 */
export function parseAddress(text: string, rules: AddressRules): AddressResult {
  const bad = (reason: string): AddressResult => ({ ok: false, code: 'E_ADDRESS', reason });
  const s = text.trim();
  let host: string;
  let portText: string;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) return bad(`"${text}" has "[" without "]"`);
    host = s.slice(1, close);
    if (!isIPv6Literal(host)) return bad(`"${host}" in brackets is not an IPv6 address`);
    if (s[close + 1] !== ':') return bad(`"${text}" needs a port: "[${host}]:PORT"`);
    portText = s.slice(close + 2);
  } else {
    const colon = s.lastIndexOf(':');
    if (colon < 0) return bad(`"${text}" needs a port: "host:port"`);
    if (s.indexOf(':') !== colon) {
      return bad(`"${text}" looks like an IPv6 address: write it in brackets, e.g. "[::1]:80"`);
    }
    host = s.slice(0, colon);
    portText = s.slice(colon + 1);
    if (host === '') return bad(`"${text}" has no host (use "0.0.0.0:PORT" for every IPv4 address)`);
    if (parseIp(host) === null) {
      if (!isHostname(host)) return bad(`"${host}" is neither an IP address nor a host name`);
      if (!rules.allowName) {
        return bad(`"${host}" is a name; a bind address must be an IP literal such as "0.0.0.0" or "[::]"`);
      }
    }
  }
  if (!/^\d{1,5}$/.test(portText)) return bad(`port "${portText}" in "${text}" is not a number`);
  const port = Number(portText);
  const min = rules.allowPortZero ? 0 : 1;
  if (port < min || port > 65535) {
    return { ok: false, code: 'E_PORT_RANGE', reason: `port ${port} is outside ${min}..65535` };
  }
  // "app.internal." and "app.internal" are one name: a discovered backend's identity must not depend on the dot
  // and DNS names are compared without regard to case (RFC 4343)
  if (isHostName(host)) host = (host.endsWith('.') ? host.slice(0, -1) : host).toLowerCase();
  return { ok: true, address: { host, port, text: s } };
}

/**
 * Whether an address's host is a DNS name rather than an IP literal (IPv6
 * literals always hold a ":", names never do). A backend with a name is a DNS
 * discovery source.
 */
export function isHostName(host: string): boolean {
  return host !== '' && !host.includes(':') && parseIp(host) === null;
}

/** Canonical "host:port" for comparing binds: "[0:0::1]:80" and "[::1]:80" are the same. */
export function addressKey(a: Address): string {
  const pct = a.host.indexOf('%');
  const bare = pct < 0 ? a.host : a.host.slice(0, pct);
  const ip = parseIp(bare);
  if (ip === null) return `${a.host.toLowerCase()}:${a.port}`;
  const zone = pct < 0 ? '' : a.host.slice(pct);
  return bare.includes(':') ? `[${formatIp(ip)}${zone}]:${a.port}` : `${formatIp(ip)}:${a.port}`;
}
