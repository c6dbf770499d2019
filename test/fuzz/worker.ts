// One target's run in a worker thread, so that a parser caught in a loop can
// be stopped from outside: it writes the index of the input it is on into a
// shared word the runner watches, and posts its Row when done.
import { parentPort, workerData } from 'node:worker_threads';
import { runTarget } from './harness.js';
import { targetNamed } from './targets/index.js';

export interface WorkerJob {
  target: string;
  seed: number;
  inputs: number;
  timeLimitMs: number;
  hangMs: number;
  /** Int32Array(1): the input being checked */
  progress: SharedArrayBuffer;
}

const job = workerData as WorkerJob;
const progress = new Int32Array(job.progress);

void runTarget(targetNamed(job.target), {
  seed: job.seed,
  inputs: job.inputs,
  timeLimitMs: job.timeLimitMs,
  hangMs: job.hangMs,
  onInput: (i) => Atomics.store(progress, 0, i),
}).then((row) => parentPort!.postMessage(row));
