// `show backends` as text: the weight is effective/configured under a header
// that says so, and a backend's failures are in two columns, connects that
// failed and responses that failed (as the two metrics count them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBackends } from '../../daemon/control/socket/format.js';
import { FakeContext } from './fake-context.js';

/** The cell of `row` in the right-aligned column whose header is `title`. */
function cellUnder(header: string, row: string, title: string): string {
  const end = header.indexOf(title) + title.length;
  assert.ok(end >= title.length, `no ${title} column in ${header}`);
  return row.slice(0, end).split(/\s+/).pop()!;
}

test('show backends: WEIGHT EFF/CFG is effective/configured; CONN-ERR and RESP-ERR count apart', () => {
  const b = new FakeContext(1).snapshot().backends[0]!;
  b.weight = 100;
  b.effectiveWeight = 21;
  b.connectErrors = { refused: 2, timeout: 1, other: 0 };
  b.responseErrors = { empty: 4, timeout: 3 };
  const [header, row] = formatBackends([b]).split('\n') as [string, string];
  assert.equal(cellUnder(header, row, 'WEIGHT EFF/CFG'), '21/100');
  assert.equal(cellUnder(header, row, 'CONN-ERR'), '3', 'refused + timeout + other');
  assert.equal(cellUnder(header, row, 'RESP-ERR'), '7', 'empty + first-byte timeout');
});
