// Every fixture under test/fixtures/config/invalid names the errors it must
// produce (`# expect: CODE key.path`); the loader must report exactly those, each
// with the file and a line. Valid fixtures must load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../../daemon/config/load.js';
import { ConfigErrors } from '../../daemon/errors.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURES = `${ROOT}test/fixtures/config`;

function expectations(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => /^# expect: (\S+)(?: (\S+))?/.exec(l))
    .filter((m) => m !== null)
    .map((m) => `${m[1]} ${m[2] ?? ''}`.trim());
}

for (const name of readdirSync(`${FIXTURES}/invalid`).filter((f) => f.endsWith('.toml'))) {
  test(`invalid/${name} reports exactly the errors it lists`, () => {
    const file = `${FIXTURES}/invalid/${name}`;
    const want = expectations(file);
    assert.ok(want.length > 0, 'the fixture lists what it expects');
    assert.throws(
      () => loadConfigFile(file),
      (err: unknown) => {
        assert.ok(err instanceof ConfigErrors);
        const got = err.errors.map((e) => `${e.code} ${e.path}`.trim());
        assert.deepEqual([...got].sort(), [...want].sort());
        for (const e of err.errors) {
          assert.equal(e.file, file);
          // what is missing from the whole file has no line to point at
          if (e.code === 'E_NO_LISTENERS') continue;
          assert.ok(typeof e.line === 'number' && e.line > 0, `${e.format()} has a line`);
        }
        return true;
      },
    );
  });
}

for (const name of readdirSync(`${FIXTURES}/valid`).filter((f) => f.endsWith('.toml'))) {
  test(`valid/${name} loads`, () => {
    const c = loadConfigFile(`${FIXTURES}/valid/${name}`);
    assert.ok(c.listeners.length > 0);
  });
}

test('netmon check-config exits 1 and names all five mistakes; 0 on a valid file', () => {
  const bin = `${ROOT}bin/netmon`;
  const bad = spawnSync(bin, ['check-config', `${FIXTURES}/invalid/five-mistakes.toml`], { encoding: 'utf8' });
  assert.equal(bad.status, 1, bad.stderr);
  for (const code of ['E_TYPE', 'E_PORT_RANGE', 'E_MISSING_POOL', 'E_WEIGHT_RANGE', 'E_UNKNOWN_KEY']) {
    assert.match(bad.stderr, new RegExp(`five-mistakes\\.toml:\\d+: .*\\[${code}\\]`));
  }
  assert.match(bad.stderr, /did you mean "retries"\?/);
  assert.match(bad.stderr, /did you mean "web"\?/);
  const good = spawnSync(bin, ['check-config', `${FIXTURES}/valid/minimal.toml`], { encoding: 'utf8' });
  assert.equal(good.status, 0, good.stderr);
  assert.match(good.stdout, /ok: 1 listener\(s\), 1 pool\(s\), 1 backend\(s\)/);
});
