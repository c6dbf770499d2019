// The config loader, TOML text to a validated config. Invariants: it returns a
// frozen config or throws ConfigErrors, nothing else; every error has a catalog
// code, the file, and a line inside the text (or none); at most the reported
// bound of them; a valid config loads with what was written; TOML that is valid
// but unusual (quoted keys with every escape, dotted keys of thousands of
// segments, thousands of unknown keys) gets typed errors, not exceptions.
//
// The loader is reached through load() alone, so a change of its entry point
// is a change of one line here.
import { parseConfig } from '../../../daemon/config/load.js';
import { MAX_REPORTED_ISSUES } from '../../../daemon/config/reader.js';
import { ALGORITHMS, LOG_LEVELS } from '../../../daemon/config/schema.js';
import { ConfigErrors, isErrorCode } from '../../../daemon/errors.js';
import { tokens } from '../mutate.js';
import type { Rng } from '../rng.js';
import { oracle } from '../oracle.js';
import { show, type FuzzTarget } from '../target.js';

const SOURCE = 'fuzz.toml';

/** What the loader made of `text`: counts of what it built, or the errors. */
function load(text: string): { listeners: number; pools: number; backends: number; frozen: boolean } {
  const c = parseConfig(text, SOURCE);
  return {
    listeners: c.listeners.length,
    pools: c.pools.length,
    backends: c.pools.reduce((n, p) => n + p.backends.length, 0),
    frozen: Object.isFrozen(c) && Object.isFrozen(c.listeners),
  };
}

interface Expect {
  valid: boolean;
  listeners?: number;
  pools?: number;
  backends?: number;
  /** codes that must be among the errors */
  codes?: string[];
}

function validConfig(rng: Rng): { text: string; expect: Expect } {
  const lines: string[] = [];
  if (rng.chance(0.5)) lines.push(`workers = ${rng.range(1, 8)}`);
  if (rng.chance(0.3)) lines.push(`drain_timeout = "${rng.range(1, 60)}s"`);
  if (rng.chance(0.3)) lines.push('[control]', `socket = "/tmp/netmon-fuzz-${rng.int(1000)}.sock"`);
  if (rng.chance(0.3)) lines.push('[metrics]', `listen = ${rng.pick(['"off"', `"127.0.0.1:${rng.range(1, 65535)}"`])}`);
  if (rng.chance(0.3)) lines.push('[log]', `level = "${rng.pick(LOG_LEVELS)}"`);
  const pools = rng.range(1, 3);
  const listeners = rng.range(1, 4);
  const ports = new Set<number>();
  for (let i = 0; i < listeners; i++) {
    let port = rng.range(1, 65535);
    while (ports.has(port)) port = rng.range(1, 65535);
    ports.add(port);
    lines.push('[[listener]]', `name = "l${i}"`, `bind = "${rng.chance(0.8) ? '127.0.0.1' : '[::1]'}:${port}"`);
    lines.push(`pool = "p${rng.int(pools)}"`);
    if (rng.chance(0.3)) lines.push(`max_connections = ${rng.int(100_000)}`);
    if (rng.chance(0.2)) lines.push(`deny = ["203.0.113.0/24", "2001:db8::/32"]`);
    if (rng.chance(0.2)) lines.push(`inspect_delay = "${rng.range(1, 900)}ms"`);
  }
  let backends = 0;
  for (let p = 0; p < pools; p++) {
    lines.push(`[pool.p${p}]`, `algorithm = "${rng.pick(ALGORITHMS)}"`);
    if (rng.chance(0.5)) lines.push(`retries = ${rng.int(11)}`);
    if (rng.chance(0.3)) lines.push(`timeouts = { connect = "${rng.range(1, 10)}s", idle = "${rng.range(1, 60)}m" }`);
    if (rng.chance(0.3)) lines.push(`health = { type = "tcp", interval = "${rng.range(1, 10)}s" }`);
    const n = rng.range(1, 4);
    backends += n;
    for (let b = 0; b < n; b++) {
      lines.push(`[[pool.p${p}.backend]]`, `name = "b${b}"`, `address = "127.0.0.1:${rng.range(1, 65535)}"`);
      if (rng.chance(0.5)) lines.push(`weight = ${rng.range(1, 256)}`);
    }
  }
  return { text: lines.join('\n') + '\n', expect: { valid: true, listeners, pools, backends } };
}

/** Valid TOML that netmon must refuse with typed errors: what once threw or took quadratic time. */
function hostileAddition(rng: Rng): string {
  const esc = (): string =>
    rng.pick(['\\e', '\\x41', '\\xff', '\\U0001F600', '\\u00e9', '\t', '\\t', '\\"', '\\\\', '.']);
  switch (rng.int(7)) {
    case 0:
      return `"k${esc()}${esc()}" = 1`;
    case 1:
      return `[pool.p0."x${esc()}"]\nk = 1`;
    case 2:
      return `${Array.from({ length: rng.range(2, rng.chance(0.05) ? 5000 : 200) }, () => 'a').join('.')} = 1`;
    case 3:
      return `[${Array.from({ length: rng.range(2, rng.chance(0.05) ? 4000 : 100) }, (_, i) => `"s${i}.${esc()}"`).join('.')}]`;
    case 4:
      return `["${'a.'.repeat(rng.range(1, rng.chance(0.05) ? 5000 : 200))}"]`;
    case 5:
      return Array.from({ length: rng.range(1, rng.chance(0.05) ? 2000 : 200) }, (_, i) => `u${i} = ${i}`).join('\n');
    default:
      return `k = ${'['.repeat(rng.range(1, 1000))}${']'.repeat(rng.range(1, 1000))}`;
  }
}

function structured(rng: Rng): { input: Buffer; expect: Expect } {
  const v = validConfig(rng);
  if (rng.chance(0.6)) return { input: Buffer.from(v.text, 'utf8'), expect: v.expect };
  // the hostile part at the top (before any table) or at the end
  const add = hostileAddition(rng);
  const text = rng.chance(0.5) ? `${add}\n${v.text}` : `${v.text}${add}\n`;
  return { input: Buffer.from(text, 'utf8'), expect: { valid: false } };
}

function check(input: Buffer, expect?: Expect): string | null {
  const text = input.toString('utf8');
  let got: ReturnType<typeof load>;
  try {
    got = load(text);
  } catch (e) {
    if (!(e instanceof ConfigErrors)) throw e;
    return oracle(() => errorsHold(e, text, expect));
  }
  return oracle(() => loadedHolds(got, expect));
}

function errorsHold(e: ConfigErrors, text: string, expect?: Expect): string | null {
  const lines = text.split('\n').length;
  if (e.errors.length === 0 || e.errors.length > MAX_REPORTED_ISSUES) return `${e.errors.length} errors reported`;
  for (const err of e.errors) {
    if (!isErrorCode(err.code)) return `error without a catalog code: ${show(err.code)}`;
    if (err.file !== SOURCE || typeof err.path !== 'string') return `error without its file or key: ${err.format()}`;
    if (err.line !== undefined && !(Number.isInteger(err.line) && err.line >= 1 && err.line <= lines))
      return `line ${err.line} of ${lines}: ${err.format()}`;
  }
  if (expect?.valid) return `a valid config was refused: ${e.errors[0]!.format()}`;
  return null;
}

function loadedHolds(got: ReturnType<typeof load>, expect?: Expect): string | null {
  if (!got.frozen) return 'the config is not frozen';
  if (expect && !expect.valid) return `loaded what must be refused: ${show(got)}`;
  if (expect?.valid) {
    const want = { listeners: expect.listeners, pools: expect.pools, backends: expect.backends, frozen: true };
    if (show(got) !== show(want)) return `loaded ${show(got)}, wrote ${show(want)}`;
  }
  return null;
}

export const configTarget: FuzzTarget<Expect> = {
  name: 'config',
  title: 'config loader',
  maxLength: 64 * 1024,
  dictionary: tokens([
    '[[listener]]\n',
    '[pool.p0]\n',
    '[[pool.p0.backend]]\n',
    ' = ',
    '"',
    "'",
    '"""',
    '\\e',
    '\\x41',
    '\\U0001F600',
    '\\u00e9',
    '\t',
    '.',
    '{',
    '}',
    '[',
    ']',
    ',',
    '\n',
    '#',
    '"1s"',
    '"127.0.0.1:80"',
    'true',
    '1e999',
    '-0',
    'inf',
    'nan',
    '0x10',
    '1979-05-27T07:32:00Z',
  ]),
  structured,
  random: (rng) => {
    // TOML-ish text more often than raw bytes: random bytes rarely get past the first line
    if (rng.chance(0.3)) return rng.bytes(rng.size(2048));
    const words = [
      '[a]',
      '[[listener]]',
      'name',
      'bind',
      'pool',
      '=',
      '"x"',
      '1',
      '\n',
      ' ',
      '.',
      '"',
      '{',
      '}',
      ',',
      '#',
    ];
    return Buffer.from(Array.from({ length: rng.size(200) }, () => rng.pick(words)).join(''), 'utf8');
  },
  check,
};
