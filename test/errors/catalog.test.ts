// Every error code is defined once in daemon/errors.ts and documented in
// docs/errors.md with whose fault it is; the doc lists no code that does not exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CODES } from '../../daemon/errors.js';

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

test('every error code is documented in docs/errors.md with its fault', () => {
  for (const [code, info] of Object.entries(CODES)) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
    assert.ok(row, `${code} is missing from docs/errors.md`);
    assert.ok(row.includes(`| ${info.fault} |`), `${code}: fault "${info.fault}" not in its row: ${row}`);
  }
});

test('docs/errors.md names no code the catalog lacks', () => {
  const documented = [...doc.matchAll(/^\| `(E_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]!);
  for (const code of documented) assert.ok(Object.hasOwn(CODES, code), `${code} is documented but not defined`);
});
