// The short fuzz run of `make test`: every parser with 20,000 inputs (seeded,
// so a failure here is made again with the same FUZZ_SEED), no unexpected
// exception, no wrong answer, no hang. `make fuzz` runs 1,000,000 each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runInWorker, table } from './runner.js';
import { TARGETS } from './targets/index.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_250_101);
const INPUTS = Number(process.env.FUZZ_INPUTS ?? 20_000);

for (const t of TARGETS) {
  test(`fuzz ${t.title}: ${INPUTS.toLocaleString('en-US')} inputs, seed ${SEED}`, async (ctx) => {
    // a slow machine stops the run early rather than failing it: the inputs it tried still count
    const row = await runInWorker(t.name, { targets: [t.name], seed: SEED, inputs: INPUTS, timeLimitMs: 60_000 });
    ctx.diagnostic(table([row]).split('\n')[2]!);
    const found = row.failures.map(
      (f) => `${f.kind} at input ${f.index}: ${f.message}\n  input (base64): ${f.input.slice(0, 400)}`,
    );
    assert.equal(row.exceptions + row.wrong + row.hangs, 0, found.join('\n'));
    assert.ok(row.inputs > 0);
  });
}
