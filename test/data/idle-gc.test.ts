// After a burst a worker runs one collection once quiet (so that V8 gives the
// burst's memory back), never during traffic, never twice for one burst, never
// for a trickle of connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdleGc } from '../../daemon/data/idle-gc.js';

function run(acceptsPerBeat: number[]): number[] {
  const at: number[] = [];
  let beat = 0;
  const g = new IdleGc(() => at.push(beat));
  let accepted = 0;
  for (const n of acceptsPerBeat) {
    beat++;
    accepted += n;
    g.beat(accepted);
  }
  return at;
}

test('one collection five quiet beats after a burst', () => {
  assert.deepEqual(run([500, 500, 500, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), [8]);
});

test('not while busy, and again only after another burst', () => {
  const busy = Array<number>(20).fill(200);
  assert.deepEqual(run(busy), []);
  assert.deepEqual(run([2000, 0, 0, 0, 0, 0, 0, 0, 2000, 0, 0, 0, 0, 0, 0]), [6, 14]);
});

test('a trickle (a few connections a second, a thousand in all) is no burst; nor are 900 connections', () => {
  assert.deepEqual(run([...Array<number>(200).fill(5)]), []);
  assert.deepEqual(run([900, 0, 0, 0, 0, 0, 0]), []);
});
