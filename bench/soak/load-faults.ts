// Load as the fault: 100,000 client sources (loopback addresses 127.x.y.z) on a
// listener with per-source limits, and a burst of 200,000 short connections
// after which the daemon's memory must come back.
import { lost, codes, sleep, type Scenario } from './scenario.js';
import { Load } from './load.js';

const MB = 1024 * 1024;

export const manySources: Scenario = {
  name: '100k sources',
  async run(lab, o) {
    const n = o.quick ? 10_000 : 100_000;
    const load = new Load({
      mode: 'short',
      port: lab.sourcesPort,
      concurrency: 64,
      count: n,
      payload: 64,
      intervalMs: 0,
      sources: n,
      timeoutMs: 10_000,
    });
    const short = await load.done(o.quick ? 120_000 : 600_000);
    const l = (await lab.stats()).listeners.find((x) => x.name === 'sources')!;
    return {
      short,
      streams: null,
      unexpected: lost(short) + (short.ok + lost(short) < n ? 1 : 0),
      expected: 'none',
      notes: [
        `${short.ok} of ${n} served in ${Math.round(short.ms / 1000)} s; refused by reason: ${JSON.stringify(l.rejected)}`,
      ],
    };
  },
};

/**
 * The figure for memory: within 1.5x of the daemon's idle RSS (measured when
 * it started) a minute after the burst, or under 200 MB (before: 116 MB idle,
 * 388 MB after, for good).
 */
export const burst: Scenario = {
  name: '200k-connection burst',
  async run(lab, o) {
    const n = o.quick ? 20_000 : 200_000;
    // what the scenarios before left resident is given back once the workers are quiet
    await sleep(10_000);
    const before = lab.rss();
    const idle = lab.idleRss;
    const load = new Load({
      mode: 'short',
      port: lab.port,
      concurrency: 64,
      count: n,
      payload: 64,
      intervalMs: 0,
      sources: 0,
      timeoutMs: 10_000,
    });
    const short = await load.done(o.quick ? 120_000 : 900_000);
    const peak = lab.rss();
    const waited: string[] = [];
    let later = peak;
    let slept = 0;
    for (const s of o.quick ? [10, 20] : [10, 30, 60]) {
      await sleep((s - slept) * 1000);
      slept = s;
      later = lab.rss();
      waited.push(`${s} s: ${Math.round(later / MB)} MB`);
    }
    const back = later <= 1.5 * idle || later < 200 * MB;
    return {
      short,
      streams: null,
      unexpected: lost(short) + (short.ok < n ? 1 : 0) + (back ? 0 : 1),
      expected: 'none; RSS back within 1.5x of idle (or under 200 MB) within a minute',
      notes: [
        `${short.ok} of ${n} in ${Math.round(short.ms / 1000)} s (${Math.round(short.ok / (short.ms / 1000))} conn/s); lost: ${codes(short)}`,
        `RSS idle at start ${Math.round(idle / MB)} MB, before the burst ${Math.round(before / MB)} MB, right after ${Math.round(peak / MB)} MB, after ${waited.join(', after ')}`,
      ],
    };
  },
};
