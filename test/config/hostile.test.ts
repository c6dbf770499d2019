// Config text that is valid TOML but unusual, or garbage at scale: the loader
// answers with typed errors (ConfigErrors, catalog codes, lines), never a raw
// exception, and in time linear in the text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../daemon/config/load.js';
import { LineLocator } from '../../daemon/config/locate.js';
import { MAX_REPORTED_ISSUES } from '../../daemon/config/reader.js';
import { ConfigErrors, isErrorCode } from '../../daemon/errors.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The errors as "CODE path @line"; fails the test on anything but ConfigErrors. */
function problems(text: string): string[] {
  try {
    parseConfig(text, 't.toml');
  } catch (err) {
    assert.ok(err instanceof ConfigErrors, `a typed error, not ${String(err)}`);
    for (const e of err.errors) assert.ok(isErrorCode(e.code));
    return err.errors.map((e) => `${e.code} ${e.path} @${e.line}`);
  }
  return [];
}

// TOML 1.1 basic strings: raw tabs and the \e, \xHH, \UXXXXXXXX escapes that JSON does not have
const QUOTED_KEYS: [string, string][] = [
  ['"tab\there" = 1', '"tab\\there"'],
  ['"esc\\e" = 1', '"esc\\u001b"'],
  ['"hex\\x41" = 1', 'hexA'],
  ['"astral\\U0001F600" = 1', '"astral😀"'],
  ['"uni\\u00e9" = 1', '"unié"'],
];

for (const [line, path] of QUOTED_KEYS) {
  test(`a quoted key with TOML escapes is located, not thrown: ${line}`, () => {
    // the unknown key sits on line 3, after two lines that locate nothing
    assert.deepEqual(problems(`# a comment\n\n${line}\n[[listener]]\n`), [
      `E_UNKNOWN_KEY ${path} @3`,
      'E_REQUIRED listener[0].bind @4',
      'E_REQUIRED listener[0].name @4',
      'E_REQUIRED listener[0].pool @4',
    ]);
  });
}

test('quoted keys inside dotted keys and table headers are located too', () => {
  assert.deepEqual(problems('[[listener]]\nname = "a"\nbind = "127.0.0.1:1"\npool = "p"\n"x\\e".y = 2\n'), [
    'E_MISSING_POOL listener[0].pool @4',
    'E_UNKNOWN_KEY listener[0]."x\\u001b" @5',
  ]);
  assert.deepEqual(problems('["\\xff\t"]\nk = 1\n'), ['E_UNKNOWN_KEY "ÿ\\t" @1', 'E_NO_LISTENERS listener @undefined']);
});

test('netmon check-config prints typed errors for escaped quoted keys, never a stack trace', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netmon-hostile-'));
  try {
    const file = join(dir, 'escapes.toml');
    writeFileSync(file, QUOTED_KEYS.map(([l]) => l).join('\n') + '\n');
    const r = spawnSync(`${ROOT}bin/netmon`, ['check-config', file], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.equal((r.stderr.match(/\[E_UNKNOWN_KEY\]/g) ?? []).length, QUOTED_KEYS.length, r.stderr);
    assert.doesNotMatch(r.stderr, /SyntaxError|^\s+at /m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** This thread's CPU time, ms: a busy machine delays a computation but does not add to it. */
function cpuMs(): number {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * CPU time (ms) per call of `f`, over as many calls as take `totalMs` of CPU time: the kernel
 * accounts a thread's time in ticks, so one short round can read as 0.
 */
function cpuPerCallMs(f: () => void, totalMs = 150): number {
  const t0 = cpuMs();
  let calls = 0;
  let spent = 0;
  while (spent < totalMs) {
    f();
    calls++;
    spent = cpuMs() - t0;
  }
  return spent / calls;
}

test('dotted keys, headers and quoted segments of thousands of parts are located in time linear in their length', () => {
  // a text of 16x the segments: linear work takes about 16x as long per text, quadratic 256x
  // (8,000 segments took 2.3 s)
  const dotted = (n: number): string => `${Array.from({ length: n }, () => 'a').join('.')} = 1\n`;
  const header = (n: number): string => `[${Array.from({ length: n }, (_, i) => `"k${i}.x"`).join('.')}]\nx = 1\n`;
  // one quoted segment full of dots: cut at every dot, it was quadratic too
  const quoted = (n: number): string => `["${'a.'.repeat(n)}"]\nx = 1\n`;
  for (const make of [dotted, header, quoted]) {
    const [small, large] = [make(2000), make(32_000)];
    cpuPerCallMs(() => new LineLocator(large), 20); // warm up
    const ratio = cpuPerCallMs(() => new LineLocator(large)) / cpuPerCallMs(() => new LineLocator(small));
    assert.ok(ratio < 64, `${make.name}: 16x the segments took ${ratio.toFixed(1)}x as long`);
  }
  // and the loader answers with typed errors, the key located on its line
  assert.deepEqual(problems(dotted(16_000)), ['E_UNKNOWN_KEY a @1', 'E_NO_LISTENERS listener @undefined']);
  assert.deepEqual(problems(header(16_000)), ['E_UNKNOWN_KEY "k0.x" @1', 'E_NO_LISTENERS listener @undefined']);
});

test('thousands of problems: the first hundred are reported with lines, the rest counted', () => {
  const text = Array.from({ length: 5000 }, (_, i) => `k${i} = ${i}`).join('\n');
  try {
    parseConfig(text, 't.toml');
    assert.fail('loaded');
  } catch (err) {
    assert.ok(err instanceof ConfigErrors);
    assert.equal(err.errors.length, MAX_REPORTED_ISSUES);
    assert.equal(err.total, 5001, '5000 unknown keys and no listener');
    assert.equal(err.errors[0]!.format(), 't.toml:1: k0: unknown key "k0" at the top level [E_UNKNOWN_KEY]');
    assert.match(err.lines().at(-1)!, /^\.\.\. and 4901 more problem\(s\) not listed$/);
  }
});

test('a long CIDR list names each bad entry by its written index', () => {
  const good = Array.from({ length: 3000 }, (_, i) => `"10.${i >> 8}.${i & 255}.0/24"`);
  const deny = ['7', '"10.0.0.0/99"', ...good, 'true', '"10.0.0.1/33"'];
  const got = problems(`[[listener]]\nname="a"\nbind="127.0.0.1:1"\npool="p"\ndeny = [${deny.join(', ')}]\n`);
  assert.deepEqual(got, [
    'E_MISSING_POOL listener[0].pool @4',
    'E_TYPE listener[0].deny[0] @5',
    'E_CIDR listener[0].deny[1] @5',
    'E_TYPE listener[0].deny[3002] @5',
    'E_CIDR listener[0].deny[3003] @5',
  ]);
});
