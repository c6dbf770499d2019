// Faults of the daemon itself under load: out of file descriptors, a worker
// crash, floods of the control socket, and SIGTERM twice (the last scenario:
// the daemon is gone after it).
import net from 'node:net';
import { codes, lost, lostAfter, shorts, sleep, streams, type Scenario } from './scenario.js';

export const fdExhaustion: Scenario = {
  name: 'fd exhaustion',
  async run(lab, o) {
    const before = await lab.stats();
    const passive0 = before.backends.reduce((n, b) => n + b.passiveFailures, 0);
    const emfile0 = before.workers.reduce((n, w) => n + w.fdConnectFailures, 0);
    const limit0 = lab.fdLimit();
    // room for about 60 connections above what is open now (32 stay in reserve)
    lab.limitFds(lab.fds() + 160);
    // no wait: the load comes at once, and the workers must see the lower limit by themselves (they
    // read it again at least every 32 accepts), before it runs out
    const held = await streams(lab, 120);
    const load = shorts(lab, 8);
    await sleep(o.quick ? 3000 : 6000);
    const during = await lab.stats();
    const alerts = await lab.alerts();
    const short = await load.stop();
    const st = await held.stop();
    lab.limitFds(limit0);
    // descriptors free again: the workers reopen their listeners, and every new connection is served
    for (let i = 0; i < 100 && (await lab.stats()).workers.some((w) => w.acceptPaused); i++) await sleep(100);
    const after = await shorts(lab, 8, { count: 400 }).done(30_000);
    const s = await lab.stats();
    const passive = s.backends.reduce((n, b) => n + b.passiveFailures, 0) - passive0;
    // a backend connect that met EMFILE: the workers paused too late (the client is reset)
    const emfile = s.workers.reduce((n, w) => n + w.fdConnectFailures, 0) - emfile0;
    const down = s.backends.filter((b) => b.op === 'down').length;
    const fired = alerts.some((a) => a.name === 'fd_exhaustion' && a.state === 'firing');
    const blamed = alerts.filter((a) => a.name === 'backend_down' && a.state !== 'resolved').length;
    const logged = lab.logLines(/out of file descriptors/).length;
    return {
      short,
      streams: st,
      // a clean FIN with no byte is a client accepted and closed: what pausing must prevent
      unexpected:
        short.truncated +
        st.truncated +
        emfile +
        passive +
        down +
        blamed +
        lost(after) +
        (fired ? 0 : 1) +
        (logged > 0 ? 0 : 1),
      expected: 'clients over the limit are refused (ECONNREFUSED)',
      notes: [
        `streams served ${st.ok} of 120 (${codes(st)}); short connections refused: ${codes(short)}`,
        `workers paused: ${during.workers.filter((w) => w.acceptPaused).length}; open fds ${during.process.openFds} of ${during.process.maxFds}; backend connects that met EMFILE: ${emfile}`,
        `blamed on backends: ${passive} passive ejections, ${blamed} backend_down alerts, ${down} down; fd_exhaustion alert ${fired ? 'fired' : 'MISSING'}; ${logged} log lines`,
        `after the limit was raised: ${after.ok} of 400 served`,
      ],
    };
  },
};

export const workerCrash: Scenario = {
  name: 'a worker crash',
  async run(lab) {
    const held = await streams(lab, 30);
    const load = shorts(lab, 16);
    await sleep(2000);
    const onW0 = (await lab.stats()).workers[0]!.active;
    const at = Date.now();
    await lab.crashWorker(0);
    await sleep(3000);
    const short = await load.stop();
    const st = await held.stop();
    const w = (await lab.stats()).workers;
    const notReset = st.failed - (st.codes['ECONNRESET'] ?? 0);
    const late = lostAfter(short, at, 500);
    return {
      short,
      streams: st,
      // a cut stream must see a reset, never a clean FIN
      unexpected: st.truncated + notReset + late + Math.max(0, lost(st) - onW0),
      expected: `connections on worker 0 (${onW0}), each reset`,
      notes: [
        `streams lost: ${codes(st)} (worker 0 held ${onW0} connections)`,
        `short connections lost: ${lost(short)}, started after the crash: ${late}`,
        `worker 0: starts ${w[0]!.starts}, internal errors ${w[0]!.internalErrors}`,
      ],
    };
  },
};

/** ms for one `show info` on a new control connection, or why it failed */
async function ctlLatency(lab: Parameters<Scenario['run']>[0]): Promise<number | string> {
  const t = performance.now();
  try {
    await lab.ctl('show info');
    return Math.round(performance.now() - t);
  } catch (err) {
    return (err as Error).message;
  }
}

/** "18 answered (median 4 ms, max 31 ms); 2 failed: <reason> 2" */
function latencyNote(results: (number | string)[]): string {
  const ms = results.filter((r): r is number => typeof r === 'number').sort((a, b) => a - b);
  const failed = new Map<string, number>();
  for (const r of results) if (typeof r === 'string') failed.set(r, (failed.get(r) ?? 0) + 1);
  const answered =
    ms.length === 0
      ? '0 answered'
      : `${ms.length} answered (median ${ms[ms.length >> 1]} ms, max ${ms[ms.length - 1]} ms)`;
  const why = [...failed].map(([m, n]) => `${m} ${n}`).join(', ');
  return failed.size === 0 ? answered : `${answered}; ${results.length - ms.length} failed: ${why}`;
}

export const controlFloods: Scenario = {
  name: 'control-socket floods',
  async run(lab, o) {
    const held = await streams(lab, 20);
    const load = shorts(lab, 16);
    const flood: net.Socket[] = [];
    const open = (): net.Socket => {
      const s = net.connect(lab.sock);
      s.on('error', () => {});
      s.on('data', () => {});
      flood.push(s);
      return s;
    };
    // 1,000 clients that connect and send nothing
    for (let i = 0; i < 1000; i++) open();
    // pipelined requests, and 1 MiB of empty lines in one write
    for (let i = 0; i < 4; i++) open().write('show stats\n'.repeat(2000));
    open().write('\n'.repeat(1 << 20));
    const latencies: (number | string)[] = [];
    const end = Date.now() + (o.quick ? 4000 : 10_000);
    while (Date.now() < end) {
      latencies.push(await ctlLatency(lab));
      await sleep(500);
    }
    for (const s of flood) s.destroy();
    const short = await load.stop();
    const st = await held.stop();
    return {
      short,
      streams: st,
      unexpected: lost(short) + lost(st),
      expected: 'none',
      notes: [`show info every 500 ms during the flood: ${latencyNote(latencies)}`],
    };
  },
};

export const sigtermTwice: Scenario = {
  name: 'SIGTERM twice',
  async run(lab) {
    const held = await streams(lab, 20);
    lab.signal('SIGTERM');
    await sleep(500);
    const t = performance.now();
    lab.signal('SIGTERM');
    const code = await lab.exited;
    const ms = Math.round(performance.now() - t);
    const st = await held.stop();
    const notReset = st.failed - (st.codes['ECONNRESET'] ?? 0);
    return {
      short: null,
      streams: st,
      unexpected: st.truncated + notReset + (code === 0 ? 0 : 1),
      expected: 'every stream cut, each with a reset',
      notes: [`exit ${code} ${ms} ms after the second SIGTERM; streams: ${codes(st)}`],
      daemonGone: true,
    };
  },
};
