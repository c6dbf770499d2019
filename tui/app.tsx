// The dashboard: reads the store at a steady pace (never faster than the
// refresh interval, however busy the daemon is), keeps what the operator is
// doing in the UI state, and sends the actions the operator confirmed.
import { Box, Text, useApp, useInput, useWindowSize } from 'ink';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { DaemonLink } from './client.js';
import { errorText } from './client.js';
import { Dialog, dialogLines } from './components/dialog.js';
import { bannerLines, Header } from './components/header.js';
import { HelpOverlay } from './components/help-overlay.js';
import { LogPane } from './components/log-pane.js';
import type { DashboardState } from './reducer.js';
import { overviewRows, topologyRows, type Row } from './rows.js';
import type { Store } from './store.js';
import { cursorIndex, initialUi, onKey, type KeyPress, type PendingAction, type UiState } from './ui-state.js';
import { Alerts } from './views/alerts.js';
import { Detail } from './views/detail.js';
import { Overview } from './views/overview.js';
import { Topology } from './views/topology.js';
import { Traffic } from './views/traffic.js';

export interface AppProps {
  store: Store;
  link: Pick<DaemonLink, 'send' | 'refreshClients'>;
  readOnly: boolean;
  /** false when stdin cannot be put in raw mode: the dashboard only displays */
  keysEnabled: boolean;
  /** how often the store is read, ms (250 = 4 Hz) */
  refreshMs?: number;
  /** how often `show clients` is asked while the traffic view is open, ms */
  clientsMs?: number;
  /** fixed terminal size (tests); default: the real window, following resizes */
  size?: { columns: number; rows: number };
  now?: () => number;
}

function logLinesFor(rows: number): number {
  return rows >= 40 ? 8 : rows >= 30 ? 5 : 3;
}

function replyText(data: unknown, fallback: string): string {
  if (data && typeof data === 'object' && 'message' in data && typeof data.message === 'string') return data.message;
  return fallback;
}

function Footer(props: { readOnly: boolean; keysEnabled: boolean; filter: string; width: number }) {
  if (!props.keysEnabled) {
    return <Text color="yellow">keys disabled: stdin is not a terminal (ctrl-c quits)</Text>;
  }
  const keys = ['? help', 'q quit', 'tab/1-5 views', 'j/k move', 'enter detail', '/ filter', 's sort'];
  if (!props.readOnly) keys.push('d drain', 'm maint', 'r ready', 'w weight', 'a algorithm');
  return (
    <Text wrap="truncate">
      {props.filter ? <Text color="cyan">{`filter "${props.filter}"  `}</Text> : null}
      <Text dimColor>{keys.join('  ')}</Text>
    </Text>
  );
}

export function App(props: AppProps) {
  const { store, link } = props;
  const now = props.now ?? Date.now;
  const refreshMs = props.refreshMs ?? 250;
  const app = useApp();
  const window = useWindowSize();
  const size = props.size ?? window;
  const [data, setData] = useState<DashboardState>(() => store.getState());
  const [ui, setUi] = useState<UiState>(initialUi);
  const seen = useRef(store.version);

  // steady redraw: at most one new state per interval, whatever the message rate
  useEffect(() => {
    const t = setInterval(() => {
      if (store.version !== seen.current) {
        seen.current = store.version;
        setData(store.getState());
      }
    }, refreshMs);
    return () => clearInterval(t);
  }, [store, refreshMs]);

  // the client table is a request, not part of the stream: ask while it is shown
  useEffect(() => {
    if (ui.view !== 'traffic') return;
    void link.refreshClients(10);
    const t = setInterval(() => void link.refreshClients(10), props.clientsMs ?? 2000);
    return () => clearInterval(t);
  }, [ui.view, link, props.clientsMs]);

  const perform = useCallback(
    (a: PendingAction) => {
      const log = (kind: 'action' | 'reply' | 'error', text: string): void => {
        store.dispatch({ type: 'log', time: now(), kind, text });
        // an action's echo should not wait for the next snapshot
        seen.current = store.version;
        setData(store.getState());
      };
      log('action', a.label);
      link.send(a.cmd, a.args).then(
        (reply) => log('reply', replyText(reply, 'ok')),
        (e: unknown) => log('error', errorText(e)),
      );
    },
    [store, link, now],
  );

  const columns = Math.max(20, size.columns);
  const logLines = logLinesFor(size.rows);
  const t = now();
  const chrome = 2 + bannerLines(data, t) + (logLines + 1) + dialogLines(ui.modal) + 1;
  const bodyHeight = Math.max(3, size.rows - chrome);

  const rows: Row[] = useMemo(() => {
    const s = data.snapshot;
    if (!s) return [];
    return ui.view === 'topology' ? topologyRows(s, ui.filter, ui.sort) : overviewRows(s, ui.filter, ui.sort);
  }, [data.snapshot, ui.view, ui.filter, ui.sort]);
  const cursor = cursorIndex(ui, rows);

  useInput(
    (input: string, key: KeyPress) => {
      const ctx = {
        rows,
        readOnly: props.readOnly,
        pageSize: Math.max(1, bodyHeight - 2),
        algorithmOf: (pool: string) => data.snapshot?.pools.find((p) => p.name === pool)?.algorithm,
      };
      // keys typed faster than a read arrive as one string: take them one by one
      const presses = input.length > 1 && !key.ctrl && !key.escape ? [...input] : [input];
      let next = ui;
      for (const ch of presses) {
        const r = onKey(next, ch, key, ctx);
        next = r.ui;
        if (r.effect?.type === 'quit') {
          app.exit();
          return;
        }
        if (r.effect?.type === 'send') perform(r.effect.action);
      }
      // moving from a fallback cursor pins the selection to the row under it
      setUi(next.selected === null && rows[cursor] ? { ...next, selected: rows[cursor]!.id } : next);
    },
    { isActive: props.keysEnabled },
  );

  let body;
  if (ui.modal.kind === 'help') body = <HelpOverlay readOnly={props.readOnly} width={columns} />;
  else if (ui.view === 'overview')
    body = (
      <Overview
        data={data}
        rows={rows}
        cursor={cursor}
        width={columns}
        height={bodyHeight}
        sort={ui.sort}
        filter={ui.filter}
      />
    );
  else if (ui.view === 'topology')
    body = <Topology rows={rows} cursor={cursor} width={columns} height={bodyHeight} now={data.snapshot?.time ?? 0} />;
  else if (ui.view === 'detail') body = <Detail data={data} backend={ui.detail} width={columns} height={bodyHeight} />;
  else if (ui.view === 'alerts') body = <Alerts data={data} width={columns} height={bodyHeight} />;
  else body = <Traffic data={data} width={columns} height={bodyHeight} />;

  return (
    <Box flexDirection="column" width={columns}>
      <Header data={data} view={ui.view} width={columns} readOnly={props.readOnly} now={t} />
      <Box height={bodyHeight} flexDirection="column" overflow="hidden">
        {body}
      </Box>
      <Dialog modal={ui.modal} width={columns} />
      <LogPane log={data.log} lines={logLines} width={columns} />
      <Footer readOnly={props.readOnly} keysEnabled={props.keysEnabled} filter={ui.filter} width={columns} />
    </Box>
  );
}
