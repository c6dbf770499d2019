// The event-loop lag the daemon reports (daemon/loop-lag.ts), for the main
// thread and each worker: about 0 on an idle loop (not the sampling interval),
// the length of a block after one, and a block that begins right after a read
// is not lost. Bounds leave room for a loaded machine: an idle figure is waited
// for (one quiet window is enough), a block is read within its length less the
// sampling interval and a generous margin above.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoopLag } from '../../daemon/loop-lag.js';
import { startTestDaemon, simpleConfig } from '../helpers/daemon.js';
import { freePort, waitFor } from '../helpers/servers.js';

/** the sampling interval (loop-lag.ts RESOLUTION_MS): a block reads at least its length less this */
const RESOLUTION_MS = 20;
/** below this an idle loop reads; the old figure (the sampling interval itself) was about 20 */
const IDLE_MS = 8;
const BLOCK_MS = 300;

function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // blocked on purpose
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('LoopLag: idle reads about 0; a block reads its length, also one that begins right after a read', async () => {
  const lag = new LoopLag();
  try {
    // idle: one quiet 200 ms window out of ten is enough on a loaded machine
    let idle = Infinity;
    for (let i = 0; i < 10 && idle >= IDLE_MS; i++) {
      await sleep(200);
      idle = Math.min(idle, lag.read());
    }
    assert.ok(idle < IDLE_MS, `idle read ${idle} ms`);
    // a block at once after a read (monitorEventLoopDelay's reset() lost this one)
    lag.read();
    block(BLOCK_MS);
    await sleep(50);
    const blocked = lag.read();
    assert.ok(blocked >= BLOCK_MS - RESOLUTION_MS - 1, `a ${BLOCK_MS} ms block read ${blocked} ms`);
    assert.ok(blocked < BLOCK_MS + 700, `a ${BLOCK_MS} ms block read ${blocked} ms`);
    // counted once: the next window does not read it again
    await sleep(100);
    const after = lag.read();
    assert.ok(after < BLOCK_MS / 2, `the window after the block read ${after} ms`);
  } finally {
    lag.stop();
  }
});

test("the daemon's loop lag: idle workers and main thread about 0; a stalled worker reads its stall, the others do not", async () => {
  const port = await freePort();
  const d = await startTestDaemon(simpleConfig({ listenPort: port, backends: [{ name: 'b', port: 1 }], workers: 2 }));
  try {
    const workers = (): { id: number; loopLagMs: number }[] => d.daemon.snapshot().workers;
    await waitFor(
      () => workers().length === 2 && workers().every((w) => w.loopLagMs < IDLE_MS),
      10_000,
      'idle workers',
    );
    await waitFor(() => d.daemon.snapshot().process.loopLagMs < IDLE_MS, 10_000, 'an idle main thread');

    // worker 0 blocked: its next heartbeat reads the block, worker 1's does not
    assert.ok(d.daemon.stallWorker(0, BLOCK_MS));
    let stalled = 0;
    let other = 0;
    await waitFor(
      () => {
        const [w0, w1] = workers();
        stalled = w0!.loopLagMs;
        other = w1!.loopLagMs;
        return stalled >= BLOCK_MS - RESOLUTION_MS - 1;
      },
      10_000,
      "the stalled worker's lag",
    );
    assert.ok(stalled < BLOCK_MS + 700, `a ${BLOCK_MS} ms stall read ${stalled} ms`);
    assert.ok(other < BLOCK_MS / 2, `the other worker read ${other} ms meanwhile`);

    // the main thread blocked: its next sample (once a second) reads the block
    block(BLOCK_MS);
    let main = 0;
    await waitFor(
      () => (main = d.daemon.snapshot().process.loopLagMs) >= BLOCK_MS - RESOLUTION_MS - 1,
      5000,
      "the main thread's lag",
    );
    assert.ok(main < BLOCK_MS + 700, `a ${BLOCK_MS} ms block read ${main} ms`);
  } finally {
    await d.stop();
  }
});
