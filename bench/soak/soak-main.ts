// `make soak`: faults under load against a real daemon, each printing the
// client connections failed and truncated, crashes, and the daemon's memory and
// descriptors before and after, then a summary table (bench/results/soak.md).
// Faults that should lose no connection must report 0 unexpected losses; the
// run exits 1 when one does. Bounded in time: every scenario has its deadline.
//   node dist/bench/soak/soak-main.js [--quick] [--only NAME,...] [--keep]
import { mkdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Lab } from './lab.js';
import { baseline, sleep, type Findings, type Scenario, type SoakOptions } from './scenario.js';
import { backendKilled, backendStopped, reloads } from './backend-faults.js';
import { controlFloods, fdExhaustion, sigtermTwice, workerCrash } from './daemon-faults.js';
import { burst, manySources } from './load-faults.js';
import { rowText, table, type Row } from './report.js';

/** in this order; SIGTERM twice ends the daemon, so it comes last */
const SCENARIOS: Scenario[] = [
  baseline,
  backendKilled,
  backendStopped,
  reloads,
  fdExhaustion,
  workerCrash,
  controlFloods,
  manySources,
  burst,
  sigtermTwice,
];
/** a scenario that takes longer than this is abandoned (the daemon is then ended) */
const SCENARIO_DEADLINE_MS = 20 * 60_000;
const SETTLE_MS = 2000;

function args(): { o: SoakOptions; only: string[]; keep: boolean } {
  const a = process.argv.slice(2);
  const at = a.indexOf('--only');
  return {
    o: { quick: a.includes('--quick') },
    only: at >= 0 ? (a[at + 1] ?? '').split(',').map((s) => s.trim().toLowerCase()) : [],
    keep: a.includes('--keep'),
  };
}

async function workerStarts(lab: Lab): Promise<number> {
  return (await lab.stats()).workers.reduce((n, w) => n + w.starts, 0);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * One scenario with the figures before and after. The `show stats` that count
 * worker restarts are part of what is measured: one that gets no answer before
 * the fault fails the row as "before the fault", one after it fails the row
 * with the fault's own findings kept (a control socket still busy with what the
 * fault sent is the daemon's failure, not the fault's not having run).
 */
async function runOne(lab: Lab, s: Scenario, o: SoakOptions): Promise<Row> {
  const t0 = performance.now();
  const rss0 = lab.rss();
  const fds0 = lab.fds();
  const row = (f: Findings, extra: Partial<Row>): Row => ({
    ...f,
    name: s.name,
    seconds: Math.round((performance.now() - t0) / 1000),
    crashes: '?',
    rss: [rss0, 0],
    fds: [fds0, 0],
    pass: false,
    ...extra,
  });
  let starts0: number;
  try {
    starts0 = await workerStarts(lab);
  } catch (err) {
    const f = { short: null, streams: null, unexpected: 1, expected: '-', notes: [] };
    return row(f, { notes: [`before the fault (not run): ${message(err)}`] });
  }
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no end within ${SCENARIO_DEADLINE_MS / 60_000} min`)),
      SCENARIO_DEADLINE_MS,
    );
  });
  const f = await Promise.race([s.run(lab, o), deadline]).finally(() => clearTimeout(timer));
  const alive = lab.daemon!.exitCode === null && lab.daemon!.signalCode === null;
  if (alive) await sleep(SETTLE_MS);
  const died = !alive && !f.daemonGone;
  const after = {
    rss: [rss0, alive ? lab.rss() : 0] as [number, number],
    fds: [fds0, alive ? lab.fds() : 0] as [number, number],
  };
  let restarts = 0;
  try {
    if (alive) restarts = (await workerStarts(lab)) - starts0;
  } catch (err) {
    return row(f, { ...after, unexpected: f.unexpected + 1, notes: [...f.notes, `after the fault: ${message(err)}`] });
  }
  return row(f, {
    ...after,
    crashes: died ? 'daemon died' : `${restarts} worker restart(s)`,
    pass: f.unexpected === 0 && !died,
  });
}

async function main(): Promise<number> {
  const { o, only, keep } = args();
  if (spawnSync('prlimit', ['--version']).status !== 0) {
    process.stderr.write('netmon soak: prlimit (util-linux) is needed: tools/test-deps.sh installs it\n');
    return 2;
  }
  const chosen = SCENARIOS.filter((s) => only.length === 0 || only.some((n) => s.name.toLowerCase().includes(n)));
  const lab = new Lab();
  const rows: Row[] = [];
  try {
    await lab.start();
    process.stdout.write(`netmon soak: daemon pid ${lab.pid}, log ${lab.logPath}, idle RSS ${lab.idleRss >> 20} MB\n`);
    for (const s of chosen) {
      const row = await runOne(lab, s, o).catch((err: unknown): Row => ({
        name: s.name,
        short: null,
        streams: null,
        unexpected: 1,
        expected: '-',
        notes: [`error: ${message(err)}`],
        seconds: 0,
        crashes: '?',
        rss: [0, 0],
        fds: [0, 0],
        pass: false,
      }));
      rows.push(row);
      process.stdout.write(rowText(row) + '\n\n');
      if (lab.daemon!.exitCode !== null || lab.daemon!.signalCode !== null) break;
    }
  } finally {
    await lab.stop(keep);
  }
  const md = table(rows, o.quick);
  const dir = fileURLToPath(new URL('../../../bench/results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}soak${o.quick ? '-quick' : ''}.md`;
  if (only.length === 0) writeFileSync(file, md);
  process.stdout.write(md + (only.length === 0 ? `\n(written to ${file})\n` : ''));
  return rows.every((r) => r.pass) ? 0 : 1;
}

process.exitCode = await main();
