// Runs one target over N inputs: input i is made from (seed, i) alone, as
// random bytes (3 in 10), a mutation of a well-formed input (4 in 10) or a
// well-formed input with its expected answer (3 in 10), and checked. Counted:
// unexpected exceptions (the parser threw), wrong answers (an invariant broke)
// and hangs (the parser spent over `hangMs` of CPU time on an input, confirmed
// by running it twice more: the least of three). CPU time, not wall time: on a
// shared machine a slow wall clock is other processes' doing. Work a check does
// for its invariants is left out (oracle.ts); a parser that waits instead of
// working is caught by the target's own checks (a probe that times out) and a
// parser that never returns by the runner's watchdog.
import { mutate } from './mutate.js';
import { cpuMs, takeOracleMs } from './oracle.js';
import { inputRng } from './rng.js';
import type { FuzzTarget } from './target.js';

export type InputKind = 'random' | 'mutated' | 'structured';
export type FailureKind = 'exception' | 'wrong' | 'hang';

export interface Generated {
  kind: InputKind;
  input: Buffer;
  expect?: unknown;
}

export interface Failure {
  kind: FailureKind;
  /** the input's index in the run: (seed, index) makes it again */
  index: number;
  message: string;
  /** the input, base64 */
  input: string;
}

export interface Row {
  target: string;
  title: string;
  seed: number;
  inputs: number;
  exceptions: number;
  wrong: number;
  hangs: number;
  /** the most CPU time one input took, ms (for one over a fifth of `hangMs`, the least of its three runs) */
  maxMs: number;
  /** wall time of the whole run, ms */
  elapsedMs: number;
  /** the time limit ended the run before every input was tried */
  timedOut: boolean;
  /** the first failures, with their inputs */
  failures: Failure[];
}

export interface RunOptions {
  seed: number;
  inputs: number;
  /** stop trying new inputs after this long (ms) */
  timeLimitMs: number;
  /** an input that takes more CPU time than this is a hang (ms) */
  hangMs?: number;
  /** failures kept with their inputs (all are counted) */
  keep?: number;
  /** told the index of each input before it runs (a watchdog reads it) */
  onInput?: (index: number) => void;
}

/** Input `index` of the run seeded `seed`. */
export function generate(target: FuzzTarget, seed: number, index: number): Generated {
  const rng = inputRng(seed, index);
  const k = index % 10;
  if (k < 3) {
    const input = target.random ? target.random(rng) : rng.bytes(rng.size(target.maxLength));
    return { kind: 'random', input };
  }
  if (k < 7) {
    const base = target.structured(rng).input;
    const other = target.structured(rng).input;
    const input = mutate(rng, base, { maxLength: target.maxLength, dictionary: target.dictionary, other });
    return { kind: 'mutated', input };
  }
  const s = target.structured(rng);
  return { kind: 'structured', input: s.input, expect: s.expect };
}

/** One check: its verdict (null: every invariant held) or what the parser threw, and the parser's CPU time. */
async function timed(
  target: FuzzTarget,
  g: Generated,
): Promise<{ verdict: string | null; threw: unknown; ms: number }> {
  takeOracleMs();
  const t0 = cpuMs();
  let verdict: string | null = null;
  let threw: unknown;
  try {
    const r = target.check(g.input, g.expect);
    verdict = r instanceof Promise ? await r : r;
  } catch (e) {
    threw = e ?? new Error(String(e));
  }
  return { verdict, threw, ms: cpuMs() - t0 - takeOracleMs() };
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    const frame = e.stack?.split('\n').find((l) => l.trim().startsWith('at '));
    return `${e.name}: ${e.message.slice(0, 300)}${frame ? ` (${frame.trim()})` : ''}`;
  }
  return String(e);
}

export async function runTarget(target: FuzzTarget, o: RunOptions): Promise<Row> {
  const hangMs = o.hangMs ?? 50;
  const keep = o.keep ?? 20;
  const row: Row = {
    target: target.name,
    title: target.title,
    seed: o.seed,
    inputs: 0,
    exceptions: 0,
    wrong: 0,
    hangs: 0,
    maxMs: 0,
    elapsedMs: 0,
    timedOut: false,
    failures: [],
  };
  const start = performance.now();
  const fail = (kind: FailureKind, index: number, message: string, input: Buffer): void => {
    if (kind === 'exception') row.exceptions++;
    else if (kind === 'wrong') row.wrong++;
    else row.hangs++;
    if (row.failures.length < keep) row.failures.push({ kind, index, message, input: input.toString('base64') });
  };
  try {
    for (let i = 0; i < o.inputs; i++) {
      if ((i & 63) === 0 && performance.now() - start > o.timeLimitMs) {
        row.timedOut = true;
        break;
      }
      o.onInput?.(i);
      const g = generate(target, o.seed, i);
      let r = await timed(target, g);
      if (r.ms > hangMs / 5) {
        // slow once may be the machine; slow three times is the input (and the table's max is the input's too)
        for (let k = 0; k < 2 && r.ms > hangMs / 5; k++) {
          const again = await timed(target, g);
          if (again.ms < r.ms) r = { ...r, ms: again.ms };
        }
      }
      row.inputs++;
      row.maxMs = Math.max(row.maxMs, r.ms);
      if (r.threw !== undefined) fail('exception', i, describe(r.threw), g.input);
      else if (r.verdict !== null) fail('wrong', i, r.verdict, g.input);
      if (r.ms > hangMs) fail('hang', i, `${r.ms.toFixed(1)} ms (${g.kind}, ${g.input.length} bytes)`, g.input);
    }
  } finally {
    await target.close?.();
  }
  row.elapsedMs = performance.now() - start;
  return row;
}
