import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { KEYS } from '../../tui/keys.js';
import { overviewRows, topologyRows, displayState, type Row } from '../../tui/rows.js';
import { cursorIndex, initialUi, onKey, type KeyContext, type KeyPress, type UiState } from '../../tui/ui-state.js';
import { DashboardContext } from './fake-daemon.js';

function setup(readOnly = false): { ctx: DashboardContext; rows: Row[]; kctx: KeyContext } {
  const ctx = new DashboardContext(3);
  const rows = overviewRows(ctx.snapshot(), '', initialUi.sort);
  return { ctx, rows, kctx: { rows, readOnly, pageSize: 5, algorithmOf: () => 'least_connections' } };
}

function press(ui: UiState, kctx: KeyContext, ...keys: Array<string | KeyPress>) {
  let r = { ui, effect: null as ReturnType<typeof onKey>['effect'] };
  for (const k of keys) r = typeof k === 'string' ? onKey(r.ui, k, {}, kctx) : onKey(r.ui, '', k, kctx);
  return r;
}

test('overview rows: listeners, then each pool followed by its backends', () => {
  const { rows } = setup();
  assert.deepEqual(
    rows.map((r) => r.id),
    ['l:web', 'p:web', 'b:web/b1', 'b:web/b2', 'b:web/b3', 'p:db', 'b:db/b1', 'b:db/b2', 'b:db/b3'],
  );
});

test('display state: maint over down over drain over starting', () => {
  const { ctx } = setup();
  const b = ctx.backend('web/b1');
  b.op = 'down';
  b.admin = 'drain';
  assert.equal(displayState(b), 'down');
  b.admin = 'maint';
  assert.equal(displayState(b), 'maint');
  b.admin = 'ready';
  b.op = 'starting';
  assert.equal(displayState(b), 'starting');
});

test('the cursor starts on the first backend and j / k / arrows move it within bounds', () => {
  const { rows, kctx } = setup();
  assert.equal(rows[cursorIndex(initialUi, rows)]!.id, 'b:web/b1');
  let r = press(initialUi, kctx, 'j', 'j');
  assert.equal(r.ui.selected, 'b:web/b3');
  r = press(r.ui, kctx, { upArrow: true });
  assert.equal(r.ui.selected, 'b:web/b2');
  r = press(r.ui, kctx, { end: true }, 'j');
  assert.equal(r.ui.selected, 'b:db/b3');
  r = press(r.ui, kctx, { home: true }, 'k');
  assert.equal(r.ui.selected, 'l:web');
});

test('d asks for confirmation; y sends set state drain for the selected backend, n cancels', () => {
  const { kctx } = setup();
  let r = press(initialUi, kctx, 'j', 'd');
  assert.equal(r.ui.modal.kind, 'confirm');
  assert.equal(r.effect, null);
  const cancelled = press(r.ui, kctx, 'n');
  assert.deepEqual([cancelled.ui.modal.kind, cancelled.effect], ['none', null]);
  r = press(r.ui, kctx, 'y');
  assert.deepEqual(r.effect, {
    type: 'send',
    action: {
      cmd: 'set-state',
      args: { backend: 'web/b2', state: 'drain' },
      label: 'set state web/b2 drain',
      question: 'Drain web/b2?',
    },
  });
});

test('w takes a weight, rejects one out of range, then confirms', () => {
  const { kctx } = setup();
  let r = press(initialUi, kctx, 'w', '3', '0', '0', { return: true });
  assert.equal(r.ui.modal.kind === 'weight' && r.ui.modal.error, 'a whole number 1..256');
  r = press(r.ui, kctx, { backspace: true }, { backspace: true }, { return: true });
  assert.equal(r.ui.modal.kind, 'confirm');
  r = press(r.ui, kctx, 'y');
  assert.deepEqual(r.effect?.type === 'send' && r.effect.action.args, { backend: 'web/b1', weight: 3 });
});

test("a starts on the pool's current algorithm and confirms the one picked", () => {
  const { kctx } = setup();
  let r = press(initialUi, kctx, 'a');
  assert.ok(r.ui.modal.kind === 'algorithm');
  r = press(r.ui, kctx, { downArrow: true }, { return: true }, 'y');
  assert.equal(r.effect?.type, 'send');
  if (r.effect?.type === 'send') {
    assert.equal(r.effect.action.cmd, 'set-algorithm');
    assert.equal(r.effect.action.args.pool, 'web');
    assert.notEqual(r.effect.action.args.algorithm, 'least_connections');
  }
});

test('read-only: action keys do nothing', () => {
  const { kctx } = setup(true);
  for (const k of ['d', 'm', 'r', 'w', 'a']) {
    const r = press(initialUi, kctx, k);
    assert.deepEqual([r.ui.modal.kind, r.effect], ['none', null], k);
  }
});

test('/ filters as one types; esc clears; enter keeps', () => {
  const { ctx, kctx } = setup();
  let r = press(initialUi, kctx, '/', 'd', 'b', '/', 'b', '2');
  assert.equal(r.ui.filter, 'db/b2');
  assert.deepEqual(
    overviewRows(ctx.snapshot(), r.ui.filter, r.ui.sort).map((x) => x.id),
    ['p:db', 'b:db/b2'],
  );
  const kept = press(r.ui, kctx, { return: true });
  assert.deepEqual([kept.ui.modal.kind, kept.ui.filter], ['none', 'db/b2']);
  r = press(r.ui, kctx, { escape: true });
  assert.equal(r.ui.filter, '');
});

test('s cycles the sort column; S reverses; backends sort within their pool', () => {
  const { ctx, kctx } = setup();
  ctx.backend('web/b2').rates.connections = 99;
  let r = press(initialUi, kctx, 's', 's', 's');
  assert.equal(r.ui.sort.column, 'conn/s');
  assert.equal(r.ui.sort.descending, true);
  const ids = overviewRows(ctx.snapshot(), '', r.ui.sort).map((x) => x.id);
  assert.equal(ids[2], 'b:web/b2');
  r = press(r.ui, kctx, 'S');
  assert.equal(r.ui.sort.descending, false);
});

test('enter opens the detail of the selected backend; esc goes back', () => {
  const { kctx } = setup();
  let r = press(initialUi, kctx, '2');
  assert.equal(r.ui.view, 'topology');
  const topo = { ...kctx, rows: topologyRows(new DashboardContext(3).snapshot(), '', initialUi.sort) };
  r = press(r.ui, topo, 'j', { return: true });
  assert.equal(r.ui.view, 'detail');
  assert.ok(r.ui.detail);
  r = press(r.ui, topo, { escape: true });
  assert.equal(r.ui.view, 'topology');
});

test('? opens the help, any key closes it; q and ctrl-c quit', () => {
  const { kctx } = setup();
  const r = press(initialUi, kctx, '?');
  assert.equal(r.ui.modal.kind, 'help');
  assert.equal(press(r.ui, kctx, 'x').ui.modal.kind, 'none');
  assert.deepEqual(press(initialUi, kctx, 'q').effect, { type: 'quit' });
  assert.deepEqual(onKey(initialUi, 'c', { ctrl: true }, kctx).effect, { type: 'quit' });
});

test('docs/dashboard.md lists every key of the key table', () => {
  const doc = readFileSync(new URL('../../../docs/dashboard.md', import.meta.url), 'utf8');
  const esc = (t: string): string => t.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  for (const k of KEYS)
    assert.match(doc, new RegExp(`\\| \`${esc(k.keys)}\`\\s*\\| ${esc(k.help)}`), `docs list ${k.keys}`);
});
