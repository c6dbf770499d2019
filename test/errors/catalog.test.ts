// Every error code is defined once in daemon/errors.ts, documented in docs/errors.md
// with whose fault it is, and raised somewhere in the sources; every code the
// sources (or tests) spell is in the catalog.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CODES } from '../../daemon/errors.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CATALOG = 'daemon/errors.ts';
const doc = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8');

/** The table's rows as cells, keyed by code (the formatter pads the columns); duplicates listed apart. */
const rows = new Map<string, string[]>();
const duplicateRows: string[] = [];
for (const line of doc.split('\n')) {
  const cells = line.split('|').map((c) => c.trim());
  const code = /^`(E_[A-Z0-9_]+)`$/.exec(cells[1] ?? '')?.[1];
  if (!line.startsWith('|') || !code) continue;
  if (rows.has(code)) duplicateRows.push(code);
  rows.set(code, cells.slice(1, -1));
}

/** TypeScript files under the given top-level folders, as paths relative to the repository. */
function sources(dirs: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(relative(ROOT, p));
    }
  };
  for (const d of dirs) walk(join(ROOT, d));
  return out;
}

/** Code -> files that spell it as a string literal (in single, double or back quotes). */
function codesIn(files: string[]): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const f of files) {
    for (const m of readFileSync(join(ROOT, f), 'utf8').matchAll(/(['"`])(E_[A-Z][A-Z0-9_]*)\1/g)) {
      const list = found.get(m[2]!) ?? [];
      if (!list.includes(f)) list.push(f);
      found.set(m[2]!, list);
    }
  }
  return found;
}

const PRODUCT = sources(['cli', 'daemon', 'tui', 'backends', 'bench']).filter((f) => f !== CATALOG);
const raised = codesIn(PRODUCT);

test('every error code is documented in docs/errors.md with its fault and retry', () => {
  for (const [code, info] of Object.entries(CODES)) {
    const row = rows.get(code);
    assert.ok(row, `${code} is missing from docs/errors.md`);
    assert.equal(row[1], info.fault, `${code}: the fault column`);
    assert.equal(row[2], info.retryable ? 'yes' : 'no', `${code}: the retry column`);
  }
});

test('docs/errors.md names no code the catalog lacks, each once', () => {
  assert.ok(rows.size > 0, 'the table was read');
  for (const code of rows.keys()) assert.ok(Object.hasOwn(CODES, code), `${code} is documented but not defined`);
  assert.deepEqual(duplicateRows, []);
});

test('every code in the catalog is raised somewhere outside the catalog', () => {
  assert.ok(PRODUCT.length > 100, `the sources were read (${PRODUCT.length} files)`);
  const unused = Object.keys(CODES).filter((code) => !raised.has(code));
  assert.deepEqual(unused, [], 'codes no source raises: raise them where they happen or remove them');
});

test('every code the sources and tests spell is in the catalog', () => {
  const spelled = codesIn([...PRODUCT, ...sources(['test'])]);
  assert.ok(spelled.size > 10, 'codes were found');
  const unknown = [...spelled]
    .filter(([code]) => !Object.hasOwn(CODES, code))
    .map(([c, f]) => `${c} (${f.join(', ')})`);
  assert.deepEqual(unknown, [], 'codes used but not in daemon/errors.ts and docs/errors.md');
});
