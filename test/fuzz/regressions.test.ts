// Every input a fuzz run found failing, saved under test/fixtures/fuzz/<parser>/,
// replayed through the same invariants, all of them (a fuzz run samples the
// costly ones): each must now pass, within the hang bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpuMs, takeOracleMs } from './oracle.js';
import { FIXTURES } from './runner.js';
import { TARGETS } from './targets/index.js';

const HANG_MS = 50;

for (const t of TARGETS) {
  const dir = join(FIXTURES, t.name);
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.bin')) : [];
  if (files.length === 0) continue;
  test(`fuzz regressions, ${t.title}: ${files.length} saved input(s)`, async () => {
    try {
      for (const f of files) {
        const input = readFileSync(join(dir, f));
        // the least of up to ten runs: the first ones run before the compiler has warmed to the parser
        let best = Infinity;
        for (let run = 0; run < 10 && best > HANG_MS; run++) {
          takeOracleMs();
          const t0 = cpuMs();
          assert.equal(await t.check(input, undefined, true), null, `${t.name}/${f}`);
          best = Math.min(best, cpuMs() - t0 - takeOracleMs());
        }
        assert.ok(best <= HANG_MS, `${t.name}/${f}: ${best.toFixed(1)} ms of CPU time`);
      }
    } finally {
      await t.close?.();
    }
  });
}
