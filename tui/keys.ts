// Every key the dashboard answers, in one table: the help overlay, the footer
// and docs/dashboard.md are read from it.

export interface KeyHelp {
  keys: string;
  help: string;
  /** changes the daemon: hidden with --read-only */
  action?: boolean;
}

export const VIEWS = ['overview', 'topology', 'detail', 'alerts', 'traffic'] as const;
export type ViewName = (typeof VIEWS)[number];

export const VIEW_TITLES: Record<ViewName, string> = {
  overview: 'Overview',
  topology: 'Topology',
  detail: 'Backend',
  alerts: 'Alerts',
  traffic: 'Traffic',
};

export const KEYS: readonly KeyHelp[] = [
  { keys: 'tab / shift-tab', help: 'next / previous view' },
  { keys: '1 2 3 4 5', help: 'overview, topology, backend detail, alerts, traffic' },
  { keys: 'up down / k j', help: 'move the selection' },
  { keys: 'pgup pgdn home end', help: 'move by a page, to the first or last row' },
  { keys: 'enter', help: 'details of the selected backend' },
  { keys: 'esc', help: 'back (close a dialog, clear the filter, leave the detail view)' },
  { keys: '/', help: 'filter backends by name, address or state (enter keeps it, esc clears it)' },
  { keys: 's / S', help: 'sort backends by the next column / reverse the order' },
  { keys: 'd', help: 'drain the selected backend (keeps its connections, no new ones)', action: true },
  { keys: 'm', help: 'put the selected backend in maintenance (no traffic at all)', action: true },
  { keys: 'r', help: 'make the selected backend ready (take traffic again)', action: true },
  { keys: 'w', help: 'set the weight of the selected backend', action: true },
  { keys: 'a', help: "set the balancing algorithm of the selected row's pool", action: true },
  { keys: 'y / n', help: 'confirm / cancel an action' },
  { keys: '?', help: 'this help (any key closes it)' },
  { keys: 'q / ctrl-c', help: 'quit' },
];

export function visibleKeys(readOnly: boolean): KeyHelp[] {
  return KEYS.filter((k) => !(readOnly && k.action));
}
