// `netmon top`: checks the terminal and the socket, attaches, and runs the Ink
// dashboard (or the blessed charts with --charts; never both at once).
import { render } from 'ink';
import { ControlClient } from '../daemon/control/socket/client.js';
import { App } from './app.js';
import { connectDaemon, errorText } from './client.js';
import { currentTerminal, socketProblem } from './preflight.js';
import { initialState } from './reducer.js';
import { createStore } from './store.js';

export interface TopOptions {
  socket: string;
  readOnly: boolean;
  charts: boolean;
  /** snapshot interval asked of the daemon, ms */
  intervalMs: number;
}

function fail(message: string, code: number): number {
  process.stderr.write(`netmon top: ${message}\n`);
  return code;
}

export async function runTop(o: TopOptions): Promise<number> {
  const term = currentTerminal();
  if (!term.stdoutIsTTY) {
    return fail(
      'stdout is not a terminal; the dashboard needs one (for a text view use `netmon ctl show backends`)',
      1,
    );
  }
  const problem = socketProblem(o.socket);
  if (problem) return fail(problem, 2);
  // one real round trip first: a stale socket file or a daemon that does not answer is said plainly
  try {
    const c = await ControlClient.connect(o.socket, { timeoutMs: 3000 });
    try {
      await c.request('show-info', {}, { timeoutMs: 3000 });
    } finally {
      c.close();
    }
  } catch (e) {
    return fail(errorText(e), 2);
  }

  const store = createStore(initialState(o.socket, Date.now()));
  const link = connectDaemon({ socket: o.socket, store, intervalMs: o.intervalMs });
  try {
    if (o.charts) {
      const { runCharts } = await import('./charts/charts.js');
      await runCharts({ store, socket: o.socket });
      return 0;
    }
    if (!term.rawMode) process.stderr.write('netmon top: stdin is not a terminal; keys are disabled (ctrl-c quits)\n');
    const instance = render(<App store={store} link={link} readOnly={o.readOnly} keysEnabled={term.rawMode} />, {
      // stdout is a terminal (checked above); Ink would otherwise go non-interactive
      // whenever CI is set in the environment and draw only the last frame at exit
      interactive: true,
      maxFps: 4,
      incrementalRendering: true,
      alternateScreen: true,
      exitOnCtrlC: true,
      patchConsole: true,
    });
    await instance.waitUntilExit();
    return 0;
  } finally {
    link.close();
  }
}
