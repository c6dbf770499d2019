// What the operator is doing (view, selection, filter, sort, dialogs) and how
// each key changes it. Pure: a key press in, the next state and at most one
// effect (a command to send, quit) out, so it is tested without a terminal.
import { ALGORITHMS } from '../daemon/config/schema.js';
import type { AdminStateName } from '../daemon/state/names.js';
import { VIEWS, type ViewName } from './keys.js';
import { rowBackend, rowPool, SORT_COLUMNS, type Row, type Sort } from './rows.js';

/** A control command waiting for the operator's yes. */
export interface PendingAction {
  cmd: string;
  args: Record<string, unknown>;
  /** the command as `netmon ctl` would spell it */
  label: string;
  question: string;
}

export type Modal =
  | { kind: 'none' }
  | { kind: 'help' }
  | { kind: 'filter'; text: string }
  | { kind: 'weight'; backend: string; text: string; error: string | null }
  | { kind: 'algorithm'; pool: string; index: number }
  | { kind: 'confirm'; action: PendingAction };

export interface UiState {
  view: ViewName;
  /** where esc from the detail view goes back to */
  back: ViewName;
  /** selected row id (stable across snapshots and sorting) */
  selected: string | null;
  /** backend shown by the detail view */
  detail: string | null;
  filter: string;
  sort: Sort;
  modal: Modal;
}

/** the parts of a key event the dashboard uses (ink's Key is a superset) */
export interface KeyPress {
  upArrow?: boolean;
  downArrow?: boolean;
  pageUp?: boolean;
  pageDown?: boolean;
  home?: boolean;
  end?: boolean;
  return?: boolean;
  escape?: boolean;
  ctrl?: boolean;
  shift?: boolean;
  tab?: boolean;
  backspace?: boolean;
  delete?: boolean;
}

export interface KeyContext {
  /** the rows of the current view, in display order */
  rows: readonly Row[];
  readOnly: boolean;
  pageSize: number;
  /** a pool's current algorithm, so the picker starts on it */
  algorithmOf?: (pool: string) => string | undefined;
}

type Effect = { type: 'send'; action: PendingAction } | { type: 'quit' } | null;

export interface KeyResult {
  ui: UiState;
  effect: Effect;
}

export const initialUi: UiState = {
  view: 'overview',
  back: 'overview',
  selected: null,
  detail: null,
  filter: '',
  sort: { column: 'name', descending: false },
  modal: { kind: 'none' },
};

/** index of the selection in `rows` (the first backend when nothing is selected yet) */
export function cursorIndex(ui: UiState, rows: readonly Row[]): number {
  if (rows.length === 0) return -1;
  const sel = ui.selected;
  let i = sel === null ? -1 : rows.findIndex((r) => r.id === sel);
  // the same backend in the other view (topology ids carry the listener after '@')
  if (i < 0 && sel !== null) i = rows.findIndex((r) => r.id.split('@')[0] === sel.split('@')[0]);
  if (i >= 0) return i;
  const firstBackend = rows.findIndex((r) => r.kind === 'backend');
  return firstBackend >= 0 ? firstBackend : 0;
}

function move(ui: UiState, rows: readonly Row[], to: (i: number) => number): UiState {
  if (rows.length === 0) return ui;
  const i = Math.max(0, Math.min(rows.length - 1, to(cursorIndex(ui, rows))));
  return { ...ui, selected: rows[i]!.id };
}

function withModal(ui: UiState, modal: Modal): KeyResult {
  return { ui: { ...ui, modal }, effect: null };
}

function stateAction(key: string, state: AdminStateName): PendingAction {
  const words = { drain: 'Drain', maint: 'Put in maintenance', ready: 'Make ready' }[state];
  return {
    cmd: 'set-state',
    args: { backend: key, state },
    label: `set state ${key} ${state}`,
    question: `${words} ${key}?`,
  };
}

function switchView(ui: UiState, view: ViewName, rows: readonly Row[]): UiState {
  if (view === ui.view) return ui;
  if (view === 'detail') {
    const b = rowBackend(rows[cursorIndex(ui, rows)]);
    return { ...ui, view, back: ui.view === 'detail' ? ui.back : ui.view, detail: b?.key ?? ui.detail };
  }
  return { ...ui, view };
}

function onModalKey(ui: UiState, m: Exclude<Modal, { kind: 'none' }>, input: string, key: KeyPress): KeyResult {
  const none: Modal = { kind: 'none' };
  switch (m.kind) {
    case 'help':
      return withModal(ui, none);
    case 'confirm':
      if (input === 'y' || input === 'Y' || key.return)
        return { ui: { ...ui, modal: none }, effect: { type: 'send', action: m.action } };
      if (input === 'n' || input === 'N' || key.escape || input === 'q') return withModal(ui, none);
      return { ui, effect: null };
    case 'filter': {
      if (key.escape) return { ui: { ...ui, filter: '', modal: none }, effect: null };
      if (key.return) return withModal(ui, none);
      const text = key.backspace || key.delete ? m.text.slice(0, -1) : !key.ctrl && input ? m.text + input : m.text;
      // the table filters as one types
      return { ui: { ...ui, filter: text, modal: { kind: 'filter', text } }, effect: null };
    }
    case 'weight': {
      if (key.escape) return withModal(ui, none);
      if (key.return) {
        const n = Number(m.text);
        if (!/^\d+$/.test(m.text) || n < 1 || n > 256) return withModal(ui, { ...m, error: 'a whole number 1..256' });
        return withModal(ui, {
          kind: 'confirm',
          action: {
            cmd: 'set-weight',
            args: { backend: m.backend, weight: n },
            label: `set weight ${m.backend} ${n}`,
            question: `Set the weight of ${m.backend} to ${n}?`,
          },
        });
      }
      const text =
        key.backspace || key.delete ? m.text.slice(0, -1) : /^\d$/.test(input) ? (m.text + input).slice(0, 3) : m.text;
      return withModal(ui, { ...m, text, error: null });
    }
    case 'algorithm': {
      if (key.escape) return withModal(ui, none);
      const n = ALGORITHMS.length;
      if (key.upArrow || input === 'k') return withModal(ui, { ...m, index: (m.index + n - 1) % n });
      if (key.downArrow || input === 'j') return withModal(ui, { ...m, index: (m.index + 1) % n });
      if (key.return) {
        const algorithm = ALGORITHMS[m.index]!;
        return withModal(ui, {
          kind: 'confirm',
          action: {
            cmd: 'set-algorithm',
            args: { pool: m.pool, algorithm },
            label: `set algorithm ${m.pool} ${algorithm}`,
            question: `Switch pool ${m.pool} to ${algorithm}?`,
          },
        });
      }
      return { ui, effect: null };
    }
  }
}

export function onKey(ui: UiState, input: string, key: KeyPress, ctx: KeyContext): KeyResult {
  if (key.ctrl && input === 'c') return { ui, effect: { type: 'quit' } };
  if (ui.modal.kind !== 'none') return onModalKey(ui, ui.modal, input, key);
  const { rows } = ctx;
  const same: KeyResult = { ui, effect: null };
  const current = rows[cursorIndex(ui, rows)];

  if (input === 'q') return { ui, effect: { type: 'quit' } };
  if (input === '?') return withModal(ui, { kind: 'help' });
  if (key.tab) {
    const i = VIEWS.indexOf(ui.view);
    const next = VIEWS[(i + (key.shift ? VIEWS.length - 1 : 1)) % VIEWS.length]!;
    return { ui: switchView(ui, next, rows), effect: null };
  }
  if (/^[1-5]$/.test(input)) return { ui: switchView(ui, VIEWS[Number(input) - 1]!, rows), effect: null };
  if (key.upArrow || input === 'k') return { ui: move(ui, rows, (i) => i - 1), effect: null };
  if (key.downArrow || input === 'j') return { ui: move(ui, rows, (i) => i + 1), effect: null };
  if (key.pageUp) return { ui: move(ui, rows, (i) => i - ctx.pageSize), effect: null };
  if (key.pageDown) return { ui: move(ui, rows, (i) => i + ctx.pageSize), effect: null };
  if (key.home) return { ui: move(ui, rows, () => 0), effect: null };
  if (key.end) return { ui: move(ui, rows, () => rows.length - 1), effect: null };
  if (key.escape) {
    if (ui.view === 'detail') return { ui: { ...ui, view: ui.back }, effect: null };
    if (ui.filter !== '') return { ui: { ...ui, filter: '' }, effect: null };
    return same;
  }
  if (key.return) {
    const b = rowBackend(current);
    if (!b) return same;
    return {
      ui: { ...ui, view: 'detail', back: ui.view === 'detail' ? ui.back : ui.view, detail: b.key },
      effect: null,
    };
  }
  if (input === '/') return withModal(ui, { kind: 'filter', text: ui.filter });
  if (input === 's') {
    const i = SORT_COLUMNS.indexOf(ui.sort.column);
    const column = SORT_COLUMNS[(i + 1) % SORT_COLUMNS.length]!;
    // names read best A..Z; numbers and states, worst or busiest first
    return { ui: { ...ui, sort: { column, descending: column !== 'name' && column !== 'state' } }, effect: null };
  }
  if (input === 'S') return { ui: { ...ui, sort: { ...ui.sort, descending: !ui.sort.descending } }, effect: null };

  if (ctx.readOnly) return same;
  // in the detail view the actions apply to the backend shown
  const backend = ui.view === 'detail' ? ui.detail : (rowBackend(current)?.key ?? null);
  if (input === 'd' || input === 'm' || input === 'r') {
    if (!backend) return same;
    const state = input === 'd' ? 'drain' : input === 'm' ? 'maint' : 'ready';
    return withModal(ui, { kind: 'confirm', action: stateAction(backend, state) });
  }
  if (input === 'w') {
    if (!backend) return same;
    return withModal(ui, { kind: 'weight', backend, text: '', error: null });
  }
  if (input === 'a') {
    const pool = ui.view === 'detail' && ui.detail ? ui.detail.split('/')[0]! : rowPool(current);
    if (!pool) return same;
    const now = ALGORITHMS.indexOf((ctx.algorithmOf?.(pool) ?? '') as (typeof ALGORITHMS)[number]);
    return withModal(ui, { kind: 'algorithm', pool, index: Math.max(0, now) });
  }
  return same;
}
