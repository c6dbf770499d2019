// What check-config accepts is what a worker enforces. Random listeners with
// allow / deny / trusted_proxies lists (IPv4, IPv6, IPv4-mapped, any prefix, in
// many spellings, some of them invalid) go through the real loader and the
// real plan builder; the plan crosses a structured clone as postMessage would;
// the worker's own edge (ListenerEdge, as worker.ts builds it) then decides
// for random client addresses, spelled as a socket or a PROXY header gives
// them. Its decision must equal a reference computed here, with BigInt, from
// the validated plan and the documented rule (IPv4 is ::ffff:0:0/96). A config
// with any invalid entry must be refused with E_CIDR at exactly those entries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseConfig } from '../../daemon/config/load.js';
import { ConfigErrors } from '../../daemon/errors.js';
import { Table } from '../../daemon/state/table.js';
import { Topology } from '../../daemon/control/topology/topology.js';
import { diffConfigs } from '../../daemon/control/topology/diff.js';
import { ListenerEdge } from '../../daemon/data/edge/listener-edge.js';
import { clientAddress, type IpRange } from '../../daemon/net/ip.js';
import type { Config } from '../../daemon/config/schema.js';
import type { WorkerPlan } from '../../daemon/data/plan.js';

// ---- 128-bit values: IPv4 lives at ::ffff:0:0/96 ----

const MAPPED = 0xffffn << 32n;

function big(bytes: readonly number[]): bigint {
  return bytes.reduce((n, b) => (n << 8n) | BigInt(b), 0n);
}

function bytesOf(n: bigint, count: number): number[] {
  const out: number[] = [];
  for (let i = count - 1; i >= 0; i--) out.push(Number((n >> BigInt(8 * i)) & 0xffn));
  return out;
}

function hostMask(prefix: number): bigint {
  return (1n << BigInt(128 - prefix)) - 1n;
}

/** A range of the one space: network (host bits zero) and prefix over 128 bits. */
interface Net128 {
  net: bigint;
  prefix: number;
}

/** The plan's range in the one space, by the documented rule. */
function planNet(r: IpRange): Net128 {
  return r.family === 4
    ? { net: MAPPED | big(r.bytes), prefix: r.prefix + 96 }
    : { net: big(r.bytes), prefix: r.prefix };
}

/** The canonical plan value of a valid range, by the documented rule (independent of ip.ts). */
function expectedRange(n: Net128): IpRange {
  if (n.prefix >= 96 && n.net >> 32n === 0xffffn) {
    return { family: 4, bytes: bytesOf(n.net & 0xffffffffn, 4), prefix: n.prefix - 96 };
  }
  return { family: 6, bytes: bytesOf(n.net, 16), prefix: n.prefix };
}

function contains(r: Net128, a: bigint): boolean {
  return r.prefix === 0 || a >> BigInt(128 - r.prefix) === r.net >> BigInt(128 - r.prefix);
}

// ---- spellings, written here (not by the module under test) ----

function v4Text(n: bigint, leadingZeroAt = -1): string {
  return bytesOf(n, 4)
    .map((b, i) => (i === leadingZeroAt ? `0${b}` : String(b)))
    .join('.');
}

interface V6Style {
  compress: boolean;
  upper: boolean;
  pad: boolean;
  /** write the last 32 bits as a dotted IPv4 tail */
  tail: boolean;
}

function v6Text(n: bigint, s: V6Style): string {
  const groups = bytesOf(n, 16).reduce<number[]>((g, b, i) => {
    if (i % 2 === 0) g.push(b << 8);
    else g[g.length - 1]! |= b;
    return g;
  }, []);
  const count = s.tail ? 6 : 8;
  let words = groups.slice(0, count).map((g) => {
    const h = g.toString(16);
    const t = s.pad ? h.padStart(4, '0') : h;
    return s.upper ? t.toUpperCase() : t;
  });
  const tail = s.tail ? v4Text(n & 0xffffffffn) : null;
  if (s.compress) {
    // the longest run of zero groups becomes "::"
    let best = -1;
    let len = 0;
    for (let i = 0; i < count;) {
      if (groups[i] !== 0) {
        i++;
        continue;
      }
      let j = i;
      while (j < count && groups[j] === 0) j++;
      if (j - i > len) [best, len] = [i, j - i];
      i = j;
    }
    if (best >= 0) {
      const head = words.slice(0, best).join(':');
      const rest = [...words.slice(best + len), ...(tail ? [tail] : [])].join(':');
      // "::a.b.c.d" alone is the deprecated IPv4-compatible form: keep one zero group
      if (head === '' && tail && best + len === count) return `::0:${tail}`;
      return `${head}::${rest}`;
    }
  }
  words = tail ? [...words, tail] : words;
  return words.join(':');
}

// ---- generated rule entries ----

interface Entry {
  text: string;
  /** null: the loader must refuse it */
  range: Net128 | null;
}

const style: fc.Arbitrary<V6Style> = fc.record({
  compress: fc.boolean(),
  upper: fc.boolean(),
  pad: fc.boolean(),
  tail: fc.boolean(),
});

const u32 = fc.nat({ max: 0xffffffff }).map(BigInt);
const u128 = fc.tuple(u32, u32, u32, u32).map(([a, b, c, d]) => (a << 96n) | (b << 64n) | (c << 32n) | d);
/** IPv6 values that often sit in or near the mapped block and in a few small spaces, so rules overlap */
const v6Value = fc.oneof(
  u128,
  u32.map((v) => MAPPED | v),
  fc.constantFrom(0n, 1n, 0x20010db8n << 96n, MAPPED),
  fc.nat({ max: 0xff }).map((v) => (0x20010db8n << 96n) | BigInt(v)),
);
const v4Value = fc.oneof(
  u32,
  fc.constantFrom(0x7f000001n, 0x0a000000n, 0xc0a80101n, 0n, 0xffffffffn),
  fc.nat({ max: 0xffff }).map((v) => 0x7f000000n | BigInt(v)),
);

function masked(n: bigint, prefix: number): bigint {
  return n & ~hostMask(prefix) & ((1n << 128n) - 1n);
}

/** Valid IPv4 range spellings: "a.b.c.d/p" or a bare address. */
const v4Entry: fc.Arbitrary<Entry> = fc
  .tuple(v4Value, fc.integer({ min: 0, max: 32 }), fc.boolean())
  .map(([v, p, bare]) => {
    const net = v & ~((1n << BigInt(32 - p)) - 1n) & 0xffffffffn;
    const text = bare && p === 32 ? v4Text(net) : `${v4Text(net)}/${p}`;
    return { text, range: { net: MAPPED | net, prefix: p + 96 } };
  });

/** Valid IPv6 range spellings, IPv4-mapped ones included ("::ffff:10.0.0.0/104"). */
const v6Entry: fc.Arbitrary<Entry> = fc
  .tuple(v6Value, fc.integer({ min: 0, max: 128 }), style, fc.boolean())
  .map(([v, p, s, bare]) => {
    const net = masked(v, p);
    const text = bare && p === 128 ? v6Text(net, s) : `${v6Text(net, s)}/${p}`;
    return { text, range: { net, prefix: p } };
  });

/** Spellings the loader must refuse. */
const badEntry: fc.Arbitrary<Entry> = fc
  .oneof(
    // a prefix with a leading zero: "127.0.0.0/08"
    fc
      .tuple(v4Value, fc.integer({ min: 0, max: 32 }))
      .map(([v, p]) => `${v4Text(v & ~((1n << BigInt(32 - p)) - 1n) & 0xffffffffn)}/0${p}`),
    fc.tuple(v6Value, fc.integer({ min: 0, max: 128 }), style).map(([v, p, s]) => `${v6Text(masked(v, p), s)}/0${p}`),
    // an octet with a leading zero
    fc.tuple(v4Value, fc.integer({ min: 0, max: 3 })).map(([v, i]) => `${v4Text(v, i)}/32`),
    // host bits set below the prefix
    fc.tuple(v4Value, fc.integer({ min: 0, max: 31 })).map(([v, p]) => `${v4Text(v | 1n)}/${p}`),
    fc
      .tuple(v6Value, fc.integer({ min: 0, max: 127 }), style)
      .map(([v, p, s]) => `${v6Text(v | 1n, { ...s, tail: false })}/${p}`),
    // a prefix past the family
    fc.tuple(v4Value, fc.integer({ min: 33, max: 999 })).map(([v, p]) => `${v4Text(v)}/${p}`),
    fc.tuple(v6Value, fc.integer({ min: 129, max: 999 }), style).map(([v, p, s]) => `${v6Text(v, s)}/${p}`),
    // zone index, deprecated IPv4-compatible form, short IPv4, spaces, no digits, junk
    fc.tuple(v6Value, style).map(([v, s]) => `${v6Text(v, { ...s, tail: false })}%eth0`),
    v4Value.map((v) => `::${v4Text(v)}`),
    fc.tuple(fc.nat({ max: 255 }), fc.nat({ max: 65535 })).map(([a, b]) => `${a}.${b}/16`),
    v4Value.map((v) => ` ${v4Text(v)}/32`),
    v4Value.map((v) => `${v4Text(v)}/`),
    fc.constantFrom('', '/8', 'localhost', '10.0.0.0/8/8', '1.2.3.4.5', '::ffff:1.2.3.256', '0x7f.0.0.1', '127.1'),
  )
  .map((text) => ({ text, range: null }));

/** A list, sometimes with an invalid entry. */
function list(invalid: boolean): fc.Arbitrary<Entry[]> {
  const valid = fc.oneof(v4Entry, v6Entry);
  return invalid
    ? fc.array(fc.oneof({ weight: 6, arbitrary: valid }, { weight: 1, arbitrary: badEntry }), { maxLength: 6 })
    : fc.array(valid, { maxLength: 6 });
}

// ---- clients ----

interface Client {
  text: string;
  /** the address in the one space; null when the text is not an IP */
  value: bigint | null;
}

/** A client near a rule (so rules match often) or anywhere, spelled as node or a PROXY header gives it. */
function clientsFor(rules: Entry[]): fc.Arbitrary<Client[]> {
  const nets = rules.flatMap((r) => (r.range ? [r.range] : []));
  const near =
    nets.length === 0
      ? v6Value
      : fc.tuple(fc.constantFrom(...nets), u128).map(([r, host]) => r.net | (host & hostMask(r.prefix)));
  const value = fc.oneof(
    near,
    v6Value,
    v4Value.map((v) => MAPPED | v),
  );
  const spelled = fc.tuple(value, style, fc.boolean()).map(([v, s, dotted]): Client => {
    if (v >> 32n === 0xffffn) {
      // an IPv4 client: as an IPv4 socket gives it, or as a dual-stack socket does
      return { text: dotted ? v4Text(v & 0xffffffffn) : `::ffff:${v4Text(v & 0xffffffffn)}`, value: v };
    }
    return { text: v6Text(v, { ...s, tail: false }), value: v };
  });
  const notIp = fc.constantFrom<Client>({ text: '', value: null }, { text: '/run/netmon.sock', value: null });
  return fc.array(fc.oneof({ weight: 12, arbitrary: spelled }, { weight: 1, arbitrary: notIp }), {
    minLength: 1,
    maxLength: 12,
  });
}

// ---- config text and the plan the daemon would send ----

function configText(allow: Entry[], deny: Entry[], trusted: Entry[]): string {
  const arr = (es: Entry[]): string => `[${es.map((e) => JSON.stringify(e.text)).join(', ')}]`;
  return [
    '[[listener]]',
    'name = "edge"',
    'bind = "127.0.0.1:8443"',
    'pool = "web"',
    `allow = ${arr(allow)}`,
    `deny = ${arr(deny)}`,
    ...(trusted.length > 0 ? ['proxy_protocol = "any"', `trusted_proxies = ${arr(trusted)}`] : []),
    '[pool.web]',
    '[[pool.web.backend]]',
    'name = "b"',
    'address = "127.0.0.1:5001"',
    '',
  ].join('\n');
}

/** The plan as the daemon builds it and a worker receives it (after a structured clone). */
function workerPlan(config: Config): WorkerPlan {
  const table = new Table({ workers: 1, listeners: 2, pools: 2, backends: 2, sources: 1024 });
  const topology = new Topology(table);
  topology.apply(diffConfigs(null, config), 0);
  return structuredClone(topology.plan());
}

const sameRange = (a: IpRange, b: IpRange): boolean =>
  a.family === b.family && a.prefix === b.prefix && a.bytes.join('.') === b.bytes.join('.');

function check(allow: Entry[], deny: Entry[], trusted: Entry[], clients: Client[]): void {
  const text = configText(allow, deny, trusted);
  const lists = { allow, deny, trusted_proxies: trusted };
  const invalid = Object.entries(lists).flatMap(([key, es]) =>
    es.flatMap((e, i) => (e.range === null ? [`listener[0].${key}[${i}]`] : [])),
  );
  let config: Config;
  try {
    config = parseConfig(text, 'prop.toml');
  } catch (err) {
    assert.ok(err instanceof ConfigErrors, `${String(err)}\n${text}`);
    const got = err.errors.map((e) => `${e.code} ${e.path}`).sort();
    assert.deepEqual(got, invalid.map((p) => `E_CIDR ${p}`).sort(), text);
    for (const e of err.errors) assert.ok((e.line ?? 0) > 0, `${e.format()} has a line`);
    return;
  }
  assert.deepEqual(invalid, [], `accepted entries that must be refused:\n${text}`);

  const plan = workerPlan(config).listeners[0]!;
  // the plan holds what was written, in its canonical form
  for (const [key, field] of [
    ['allow', 'allow'],
    ['deny', 'deny'],
    ['trusted_proxies', 'trustedProxies'],
  ] as const) {
    const want = lists[key].map((e) => expectedRange(e.range!));
    const got = plan.edge[field];
    assert.equal(got.length, want.length);
    want.forEach((w, i) =>
      assert.ok(sameRange(got[i]!, w), `${key}[${i}] ${lists[key][i]!.text}: ${JSON.stringify(got[i])}`),
    );
  }

  // the worker's edge, built as worker.ts builds it, from the cloned plan only
  const table = new Table({ workers: 1, listeners: 2, pools: 2, backends: 2, sources: 1024 });
  const edge = ListenerEdge.wanted(plan.edge)
    ? new ListenerEdge(plan.edge, (n) => (n === 'web' ? plan.pool : -1), { table, worker: 0, listener: plan.slot })
    : null;
  const refAllow = plan.edge.allow.map(planNet);
  const refDeny = plan.edge.deny.map(planNet);
  const refTrusted = plan.edge.trustedProxies.map(planNet);
  for (const c of clients) {
    const parsed = clientAddress(c.text);
    const worker = edge?.acl ? edge.acl.check(parsed.ip) : 'allow';
    let reference: 'allow' | 'deny';
    if (refAllow.length === 0 && refDeny.length === 0) reference = 'allow';
    else if (c.value === null) reference = 'deny';
    else if (refDeny.some((r) => contains(r, c.value!))) reference = 'deny';
    else if (refAllow.length > 0 && !refAllow.some((r) => contains(r, c.value!))) reference = 'deny';
    else reference = 'allow';
    assert.equal(worker, reference, `client ${JSON.stringify(c.text)}\n${text}`);
    if (refTrusted.length > 0) {
      const trustedRef = c.value !== null && refTrusted.some((r) => contains(r, c.value!));
      assert.equal(edge!.trusted!.has(parsed.ip), trustedRef, `trusted ${c.text}\n${text}`);
    }
  }
}

const scenario = (invalid: boolean): fc.Arbitrary<[Entry[], Entry[], Entry[], Client[]]> =>
  fc
    .tuple(list(invalid), list(invalid), list(invalid))
    .chain(([a, d, t]) => fc.tuple(fc.constant(a), fc.constant(d), fc.constant(t), clientsFor([...a, ...d, ...t])));

test('accepted allow/deny/trusted lists are enforced by the worker exactly as the plan says', () => {
  fc.assert(
    fc.property(scenario(false), ([a, d, t, c]) => check(a, d, t, c)),
    { numRuns: 400 },
  );
});

test('a list with any unreadable range is refused at exactly those entries; the rest as above', () => {
  fc.assert(
    fc.property(scenario(true), ([a, d, t, c]) => check(a, d, t, c)),
    { numRuns: 400 },
  );
});

test('the examples the rule is stated with', () => {
  const c = (t: string): Client => {
    const ip = clientAddress(t).ip!;
    const v = big(ip.bytes);
    return { text: t, value: ip.family === 4 ? MAPPED | v : v };
  };
  const e = (text: string, net: bigint, prefix: number): Entry => ({ text, range: { net, prefix } });
  // a dual-stack socket's ::ffff:127.0.0.1 is 127.0.0.1 for an IPv4 rule, and the mapped range is the IPv4 one
  check([], [e('127.0.0.0/8', MAPPED | 0x7f000000n, 104)], [], [c('::ffff:127.0.0.1'), c('127.0.0.1'), c('::1')]);
  check([], [e('::ffff:127.0.0.0/104', MAPPED | 0x7f000000n, 104)], [], [c('127.0.0.1'), c('128.0.0.1')]);
  // an IPv6 range that covers ::ffff:0:0/96 covers IPv4 clients too
  check([e('::/0', 0n, 0)], [e('::1', 1n, 128)], [], [c('10.1.2.3'), c('::1'), c('2001:db8::1')]);
});
