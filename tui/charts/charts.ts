// `netmon top --charts`: full-screen blessed-contrib charts from the same store
// as the dashboard (Ink is never mounted at the same time). Line charts of
// connections/s, throughput and one backend's latency percentiles over the
// history the reducer keeps, a bar per backend, daemon CPU / memory gauges and
// the alert log.
import { totalmem } from 'node:os';
import blessed from 'blessed';
import contrib, { type LineSeries } from 'blessed-contrib';
import { bytes, clock } from '../format.js';
import type { DashboardState } from '../reducer.js';
import type { Store } from '../store.js';

export interface ChartsOptions {
  store: Store;
  socket: string;
  /** redraw interval, ms */
  refreshMs?: number;
}

const COLORS = ['cyan', 'yellow', 'green', 'magenta', 'blue', 'red', 'white'];
/** bars that fit a typical screen; the busiest backends are shown */
const MAX_BARS = 12;

function labels(times: readonly number[], n: number): string[] {
  return times.slice(-n).map((t) => clock(t));
}

function poolLines(
  d: DashboardState,
  pick: (p: DashboardState['poolSeries'][string]) => number[],
  suffix = '',
): LineSeries[] {
  return Object.entries(d.poolSeries).map(([name, s], i) => {
    const y = pick(s);
    return { title: name + suffix, x: labels(d.times, y.length), y, style: { line: COLORS[i % COLORS.length]! } };
  });
}

export function runCharts(o: ChartsOptions): Promise<void> {
  const screen = blessed.screen({ smartCSR: true, title: 'netmon top --charts', fullUnicode: true });
  const grid = new contrib.grid({ rows: 12, cols: 12, screen });
  const line = (label: string) =>
    ({
      label,
      showLegend: true,
      legend: { width: 14 },
      wholeNumbersOnly: false,
      style: { text: 'white', baseline: 'white' },
    }) as const;
  const conns = grid.set(0, 0, 4, 8, contrib.line, line(' connections/s per pool '));
  const cpu = grid.set(0, 8, 2, 4, contrib.gauge, { label: ' daemon CPU ', stroke: 'green', fill: 'white' });
  const mem = grid.set(2, 8, 2, 4, contrib.gauge, { label: ' daemon memory ', stroke: 'cyan', fill: 'white' });
  const through = grid.set(4, 0, 4, 6, contrib.line, line(' throughput per pool, bytes/s '));
  const latency = grid.set(4, 6, 4, 6, contrib.line, line(' first byte, ms '));
  const bars = grid.set(8, 0, 4, 8, contrib.bar, {
    label: ' connections/s per backend ',
    barWidth: 5,
    barSpacing: 7,
    xOffset: 1,
    maxHeight: 1,
  });
  const log = grid.set(8, 8, 4, 4, contrib.log, {
    label: ' alerts and events (q quits, n/p backend) ',
    bufferLength: 50,
    fg: 'white',
  });

  let backendIndex = 0;
  let logged = 0;
  let lastStatus = '';
  let seen = -1;

  const draw = (): void => {
    const d = o.store.getState();
    const s = d.snapshot;
    const status = d.connection.status;
    if (status !== lastStatus) {
      lastStatus = status;
      log.log(status === 'connected' ? `attached to ${o.socket}` : `${status}: ${d.connection.error ?? o.socket}`);
    }
    // the alert log grows at the ring's end; when the ring drops old entries, continue from its start
    const fresh = d.alertLog.length >= logged ? d.alertLog.slice(logged) : d.alertLog;
    for (const a of fresh)
      log.log(`${clock(a.resolvedAt ?? a.firedAt ?? a.since)} ${a.state} ${a.name} ${a.subject}: ${a.message}`);
    logged = d.alertLog.length;
    if (!s || o.store.version === seen) {
      screen.render();
      return;
    }
    seen = o.store.version;

    conns.setData(poolLines(d, (p) => p.connections));
    through.setData([...poolLines(d, (p) => p.bytesIn, ' in'), ...poolLines(d, (p) => p.bytesOut, ' out')]);

    const keys = s.backends.map((b) => b.key);
    backendIndex = keys.length ? ((backendIndex % keys.length) + keys.length) % keys.length : 0;
    const key = keys[backendIndex];
    const bs = key ? d.backendSeries[key] : undefined;
    if (key && bs) {
      latency.setLabel(` first byte of ${key}, ms (n/p: other backend) `);
      const x = labels(d.times, bs.firstByteP50.length);
      latency.setData([
        { title: 'p50', x, y: bs.firstByteP50, style: { line: 'green' } },
        { title: 'p95', x, y: bs.firstByteP95, style: { line: 'yellow' } },
        { title: 'p99', x, y: bs.firstByteP99, style: { line: 'red' } },
      ]);
    }
    const busiest = s.backends
      .slice()
      .sort((a, b) => b.rates.connections - a.rates.connections || a.key.localeCompare(b.key))
      .slice(0, MAX_BARS);
    bars.setData({
      titles: busiest.map((b) => b.name.slice(0, 6)),
      data: busiest.map((b) => Math.round(b.rates.connections)),
    });

    // blessed-contrib reads a value below 1.001 as a fraction: always give it one
    cpu.setPercent(Math.min(1, Math.max(0, s.process.cpu)));
    cpu.setLabel(` daemon CPU ${Math.round(s.process.cpu * 100)}% `);
    const total = totalmem();
    mem.setPercent(Math.min(1, Math.max(0, s.process.rssBytes / total)));
    mem.setLabel(` daemon memory ${bytes(s.process.rssBytes)} of ${bytes(total)} `);
    screen.render();
  };

  return new Promise((resolve) => {
    const timer = setInterval(draw, o.refreshMs ?? 1000);
    screen.key(['n', 'right'], () => {
      backendIndex++;
      seen = -1;
      draw();
    });
    screen.key(['p', 'left'], () => {
      backendIndex--;
      seen = -1;
      draw();
    });
    screen.key(['q', 'C-c', 'escape'], () => {
      clearInterval(timer);
      screen.destroy();
      resolve();
    });
    draw();
  });
}
