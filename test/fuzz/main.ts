// `make fuzz`: every parser with 1,000,000 inputs by default, a table of what
// was found, failing inputs saved under test/fixtures/fuzz/<parser>/ (the
// regression test replays them), exit status 1 on any failure.
//
//   node dist/test/fuzz/main.js [--inputs N] [--seed S] [--time-limit SECONDS]
//                               [--jobs N] [--only proxy,config,...] [--no-save]
// FUZZ_INPUTS, FUZZ_SEED and FUZZ_TIME_LIMIT set the same from the environment.
import { randomInt } from 'node:crypto';
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { failed, fuzz, saveFailures, table } from './runner.js';
import { TARGETS } from './targets/index.js';

const { values } = parseArgs({
  options: {
    inputs: { type: 'string', default: process.env.FUZZ_INPUTS ?? '1000000' },
    seed: { type: 'string', default: process.env.FUZZ_SEED ?? String(randomInt(1, 2 ** 31)) },
    'time-limit': { type: 'string', default: process.env.FUZZ_TIME_LIMIT ?? '1800' },
    jobs: { type: 'string', default: String(Math.min(2, availableParallelism())) },
    only: { type: 'string' },
    'no-save': { type: 'boolean', default: false },
  },
});

const inputs = Number(values.inputs);
const seed = Number(values.seed);
const timeLimitMs = Number(values['time-limit']) * 1000;
const jobs = Number(values.jobs);
const targets = values.only ? values.only.split(',') : TARGETS.map((t) => t.name);
for (const [name, v] of Object.entries({ inputs, seed, 'time-limit': timeLimitMs, jobs })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
process.stdout.write(
  `fuzzing ${targets.length} parsers, ${inputs.toLocaleString('en-US')} inputs each, seed ${seed} ` +
    `(again: FUZZ_SEED=${seed}), ${jobs} at a time, at most ${timeLimitMs / 1000} s each\n` +
    `${process.version} on ${availableParallelism()} x ${cpu}\n\n`,
);
const t0 = performance.now();
const rows = await fuzz({
  targets,
  seed,
  inputs,
  timeLimitMs,
  jobs,
  onRow: (r) =>
    process.stdout.write(
      `  ${r.title}: ${r.inputs.toLocaleString('en-US')} inputs in ${(r.elapsedMs / 1000).toFixed(0)} s` +
        `${failed(r) ? ', FAILED' : ''}\n`,
    ),
});
process.stdout.write(`\n${table(rows)}\n\n`);
for (const r of rows) {
  for (const f of r.failures) process.stdout.write(`${r.target} ${f.kind} (input ${f.index}): ${f.message}\n`);
  if (failed(r) && !values['no-save']) {
    for (const p of saveFailures(r)) process.stdout.write(`  saved ${p}\n`);
  }
  if (r.timedOut) process.stdout.write(`${r.title}: stopped by the time limit after ${r.inputs} inputs\n`);
}
const bad = rows.filter(failed);
process.stdout.write(
  `${bad.length === 0 ? 'no failures' : `failures in ${bad.map((r) => r.target).join(', ')}`}; ` +
    `${((performance.now() - t0) / 1000).toFixed(0)} s in all\n`,
);
process.exitCode = bad.length === 0 ? 0 : 1;
