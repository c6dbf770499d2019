// Every error code is defined once in daemon/errors.ts and documented in
// docs/errors.md with whose fault it is; the doc lists no code that does not exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CODES } from '../../daemon/errors.js';

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

/** The table's rows as cells, keyed by code (the formatter pads the columns). */
const rows = new Map<string, string[]>();
for (const line of doc.split('\n')) {
  const cells = line.split('|').map((c) => c.trim());
  const code = /^`(E_[A-Z0-9_]+)`$/.exec(cells[1] ?? '')?.[1];
  if (line.startsWith('|') && code) rows.set(code, cells.slice(1, -1));
}

test('every error code is documented in docs/errors.md with its fault', () => {
  for (const [code, info] of Object.entries(CODES)) {
    const row = rows.get(code);
    assert.ok(row, `${code} is missing from docs/errors.md`);
    assert.equal(row[1], info.fault, `${code}: the fault column`);
  }
});

test('docs/errors.md names no code the catalog lacks', () => {
  assert.ok(rows.size > 0, 'the table was read');
  for (const code of rows.keys()) assert.ok(Object.hasOwn(CODES, code), `${code} is documented but not defined`);
});
