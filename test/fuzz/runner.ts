// Runs targets in worker threads, a few at a time, with a watchdog: a worker
// whose input index has not moved for `stallMs` is stopped and its input
// recorded as a hang. Failing inputs can be saved under
// test/fixtures/fuzz/<target>/, where the regression test replays them.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { generate, type Failure, type Row } from './harness.js';
import { targetNamed } from './targets/index.js';
import type { WorkerJob } from './worker.js';

/** test/fixtures/fuzz in the source tree (this file runs from dist/test/fuzz). */
export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/fuzz/', import.meta.url));

export interface FuzzOptions {
  targets: readonly string[];
  seed: number;
  inputs: number;
  /** per target, ms */
  timeLimitMs: number;
  hangMs?: number;
  /** workers at once */
  jobs?: number;
  /** a worker stuck on one input this long (ms) is stopped: a hang */
  stallMs?: number;
  /** told of each row as its target finishes */
  onRow?: (row: Row) => void;
}

/** Runs one target in a worker; resolves with its row (a stuck worker gives a row with the hang). */
export function runInWorker(target: string, o: FuzzOptions): Promise<Row> {
  const hangMs = o.hangMs ?? 50;
  const stallMs = o.stallMs ?? 30_000;
  const progress = new SharedArrayBuffer(4);
  const job: WorkerJob = { target, seed: o.seed, inputs: o.inputs, timeLimitMs: o.timeLimitMs, hangMs, progress };
  const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: job });
  const at = new Int32Array(progress);
  const t = targetNamed(target);
  const started = performance.now();
  return new Promise<Row>((resolve, reject) => {
    let last = -1;
    let since = performance.now();
    const watchdog = setInterval(() => {
      const i = Atomics.load(at, 0);
      if (i !== last) {
        last = i;
        since = performance.now();
        return;
      }
      if (performance.now() - since < stallMs) return;
      clearInterval(watchdog);
      void worker.terminate();
      const g = generate(t, o.seed, i);
      const failure: Failure = {
        kind: 'hang',
        index: i,
        message: `no answer within ${stallMs} ms (${g.kind}, ${g.input.length} bytes): the worker was stopped`,
        input: g.input.toString('base64'),
      };
      resolve({
        target,
        title: t.title,
        seed: o.seed,
        inputs: i + 1,
        exceptions: 0,
        wrong: 0,
        hangs: 1,
        maxMs: performance.now() - since,
        elapsedMs: performance.now() - started,
        timedOut: true,
        failures: [failure],
      });
    }, 1000);
    worker.once('message', (row: Row) => {
      clearInterval(watchdog);
      void worker.terminate();
      resolve(row);
    });
    worker.once('error', (e) => {
      clearInterval(watchdog);
      reject(e);
    });
  });
}

/** Runs every target, `jobs` at a time; rows in the order of `targets`. */
export async function fuzz(o: FuzzOptions): Promise<Row[]> {
  const rows: Row[] = new Array<Row>(o.targets.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < o.targets.length) {
      const k = next++;
      rows[k] = await runInWorker(o.targets[k]!, o);
      o.onRow?.(rows[k]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.jobs ?? 1) }, lane));
  return rows;
}

export function failed(row: Row): boolean {
  return row.exceptions + row.wrong + row.hangs > 0;
}

/** Writes each kept failing input to test/fixtures/fuzz/<target>/<kind>-<sha1>.bin; returns the paths. */
export function saveFailures(row: Row, dir = FIXTURES): string[] {
  const out: string[] = [];
  for (const f of row.failures) {
    const bytes = Buffer.from(f.input, 'base64');
    const name = `${f.kind}-${createHash('sha1').update(bytes).digest('hex').slice(0, 12)}.bin`;
    const folder = join(dir, row.target);
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, name), bytes);
    out.push(join(folder, name));
  }
  return out;
}

/** The table `make fuzz` prints and docs/reliability.md records. */
export function table(rows: readonly Row[]): string {
  const head = ['parser', 'inputs', 'exceptions', 'wrong answers', 'hangs', 'max ms'];
  const body = rows.map((r) => [
    r.title,
    r.inputs.toLocaleString('en-US') + (r.timedOut ? ' (time limit)' : ''),
    String(r.exceptions),
    String(r.wrong),
    String(r.hangs),
    r.maxMs.toFixed(1),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string =>
    '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ') + ' |';
  const rule = '| ' + widths.map((w, i) => (i === 0 ? '-'.repeat(w) : '-'.repeat(w - 1) + ':')).join(' | ') + ' |';
  return [line(head), rule, ...body.map(line)].join('\n');
}
