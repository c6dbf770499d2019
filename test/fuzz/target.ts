// What the fuzzer knows about one parser: how to make inputs (random bytes,
// well-formed ones with the answer they must get, and mutations of those) and
// the invariants every answer must keep.
import type { Rng } from './rng.js';

export interface Structured<E> {
  input: Buffer;
  /** what the parser must answer for it, when the generator knows */
  expect?: E;
}

export interface FuzzTarget<E = unknown> {
  /** short name: the fixtures folder (test/fixtures/fuzz/<name>/) and --only */
  name: string;
  /** the row in the table */
  title: string;
  /** longest input made, bytes */
  maxLength: number;
  /** tokens of the format, for mutations */
  dictionary?: readonly Buffer[];
  /** a well-formed input (or a deliberately hostile one) and what it must give */
  structured(rng: Rng): Structured<E>;
  /** random input; random bytes when absent */
  random?(rng: Rng): Buffer;
  /**
   * Runs the parser and checks its answer: null when every invariant holds,
   * else what is wrong. It throws only when the parser threw (an unexpected
   * exception), never for a wrong answer. The work of checking, beyond the
   * parser's own run, goes inside oracle() so that it is not timed.
   * `thorough`: run every invariant, also those a fuzz run samples for speed.
   */
  check(input: Buffer, expect?: E, thorough?: boolean): string | null | Promise<string | null>;
  /** releases what the target opened (servers, patched transports) */
  close?(): Promise<void> | void;
}

/** A shallow description of a value for a failure message. */
export function show(v: unknown): string {
  const s = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? String(x) : x));
  return s === undefined ? String(v) : s.length > 300 ? s.slice(0, 300) + '...' : s;
}
