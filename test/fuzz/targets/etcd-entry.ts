// An etcd discovery entry: a key's last part (the backend's name) and its JSON
// value (daemon/control/discovery/etcd-entry.ts). The input is the name, an LF,
// then the value. Invariants: never throws; a refusal's reason starts with the
// name; an accepted entry is a backend with a valid name, an IP literal (an IPv6 one
// may have a zone, as in a config), a port
// 1..65535, weight 1..256, max_connections 0..1000000, a boolean backup and a
// state of ready, drain, maint or none; an entry built with valid fields gives
// exactly them, and one with a field of the wrong kind (nested deep or not), an
// unknown field or a host name is refused.
import { parseEntry, type EntryResult } from '../../../daemon/control/discovery/etcd-entry.js';
import { parseIp } from '../../../daemon/net/ip.js';
import { tokens } from '../mutate.js';
import type { Rng } from '../rng.js';
import { oracle } from '../oracle.js';
import { show, type FuzzTarget } from '../target.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const NAME_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-';
const STATES = ['ready', 'drain', 'maint'];

interface Expect {
  ok?: boolean;
  weight?: number;
  backup?: boolean;
  maxConnections?: number;
  admin?: string | null;
  ip?: string;
  port?: number;
}

function split(input: Buffer): [string, string] {
  const nl = input.indexOf(0x0a);
  if (nl < 0) return [input.toString('utf8'), ''];
  return [input.toString('utf8', 0, nl), input.toString('utf8', nl + 1)];
}

function deep(rng: Rng): string {
  const n = rng.range(1000, 20_000);
  return rng.chance(0.5) ? `${'['.repeat(n)}${']'.repeat(n)}` : `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
}

function structured(rng: Rng): { input: Buffer; expect: Expect } {
  const name = rng.chars(1, NAME_CHARS.slice(0, 62)) + rng.chars(rng.int(40), NAME_CHARS);
  const v6 = rng.chance(0.3);
  const ip = v6 ? `fd00::${rng.int(0xffff).toString(16)}` : `10.${rng.int(256)}.${rng.int(256)}.${rng.int(256)}`;
  const port = rng.range(1, 65535);
  const fields: string[] = [`"address":"${v6 ? `[${ip}]` : ip}:${port}"`];
  const expect: Expect = { ok: true, ip, port, weight: 1, backup: false, maxConnections: 0, admin: null };
  if (rng.chance(0.5)) fields.push(`"weight":${(expect.weight = rng.range(1, 256))}`);
  if (rng.chance(0.5)) fields.push(`"backup":${(expect.backup = rng.chance(0.5))}`);
  if (rng.chance(0.5)) fields.push(`"max_connections":${(expect.maxConnections = rng.int(1_000_001))}`);
  if (rng.chance(0.5)) fields.push(`"state":"${(expect.admin = rng.pick(STATES))}"`);
  if (rng.chance(0.3)) {
    // one thing wrong: the whole entry is refused
    const field = rng.pick(['weight', 'backup', 'max_connections', 'state', 'unknown', 'address']);
    const bad =
      field === 'unknown'
        ? `"wieght":2`
        : field === 'address'
          ? `"address":"app.internal:${port}"`
          : `"${field}":${rng.pick([deep(rng), '"x"', '0.5', '-1', 'null', '1e400', '[]', '{}'])}`;
    fields.push(bad);
    const input = Buffer.from(`${name}\n{${fields.join(',')}}`);
    // `null` is every optional field's default (and the last of two equal keys counts): no mistake
    return { input, expect: bad.endsWith(':null') ? {} : { ok: false } };
  }
  return { input: Buffer.from(`${name}\n{${fields.join(',')}}`), expect };
}

function check(input: Buffer, expect?: Expect): string | null {
  const [name, value] = split(input);
  const r = parseEntry(name, value);
  return oracle(() => invariants(name, r, expect));
}

function invariants(name: string, r: EntryResult, expect?: Expect): string | null {
  if (!r.ok) {
    if (typeof r.reason !== 'string' || !r.reason.startsWith(`${name}: `)) return `reason ${show(r.reason)}`;
    if (expect?.ok === true) return `refused: ${r.reason}`;
    return null;
  }
  const f = r.found;
  if (!NAME.test(name) || f.id !== name) return `accepted under the name ${show(name)}: ${show(f)}`;
  // an IPv6 address may carry a zone ("fe80::1%eth0"), as a config's addresses may
  const zone = f.ip.includes(':') ? f.ip.indexOf('%') : -1;
  if (parseIp(zone < 0 ? f.ip : f.ip.slice(0, zone)) === null) return `not an IP literal: ${show(f)}`;
  if (!Number.isInteger(f.port) || f.port < 1 || f.port > 65535) return `port: ${show(f)}`;
  if (f.weight === null || !Number.isInteger(f.weight) || f.weight < 1 || f.weight > 256) return `weight: ${show(f)}`;
  if (typeof f.backup !== 'boolean') return `backup: ${show(f)}`;
  const mc = f.maxConnections;
  if (mc === null || !Number.isInteger(mc) || mc < 0 || mc > 1_000_000) return `max_connections: ${show(f)}`;
  if (f.admin !== null && !STATES.includes(f.admin)) return `state: ${show(f)}`;
  if (f.host !== '') return `host: ${show(f)}`;
  if (expect?.ok === false) return `accepted what must be refused: ${show(f)}`;
  if (expect?.ok === true) {
    const want = [expect.ip, expect.port, expect.weight, expect.backup, expect.maxConnections, expect.admin];
    const got = [f.ip, f.port, f.weight, f.backup, f.maxConnections, f.admin];
    if (show(want) !== show(got)) return `expected ${show(want)}, got ${show(got)}`;
  }
  return null;
}

export const etcdEntryTarget: FuzzTarget<Expect> = {
  name: 'etcd-entry',
  title: 'etcd entries',
  maxLength: 1024,
  dictionary: tokens([
    '"address":',
    '"weight":',
    '"backup":',
    '"max_connections":',
    '"state":',
    '"maint"',
    '[::1]:80',
    '10.0.0.1:8080',
    'true',
    'null',
    '{',
    '[',
    '\n',
  ]),
  structured,
  check,
};
