// Faults of the backends and the config under load: a backend killed (SIGKILL)
// and restarted, a backend stopped (SIGSTOP: the kernel still completes
// handshakes, nothing answers) and continued, and 20 reloads in a row.
import { codes, lost, lostAfter, shorts, sleep, streams, type Scenario } from './scenario.js';

/** ms after a fault within which a connection already under way may be lost with it */
const IN_FLIGHT_MS = 200;

export const backendKilled: Scenario = {
  name: 'backend killed',
  async run(lab, o) {
    const held = await streams(lab, 30);
    const load = shorts(lab, 16);
    await sleep(2000);
    const onB2 = (await lab.stats()).backends.find((b) => b.name === 'b2')!.active;
    const at = Date.now();
    await lab.killBackend('b2');
    await sleep(o.quick ? 3000 : 6000);
    await lab.restartBackend('b2');
    await sleep(3000);
    const short = await load.stop();
    const st = await held.stop();
    const lateShorts = lostAfter(short, at, IN_FLIGHT_MS);
    const extraStreams = Math.max(0, lost(st) - onB2);
    return {
      short,
      streams: st,
      unexpected: lateShorts + extraStreams,
      expected: `connections on b2 when it died (${onB2})`,
      notes: [
        `streams lost: ${codes(st)} (at most the ${onB2} on b2)`,
        `short connections lost: ${lost(short)}, of them started after the kill: ${lateShorts}`,
      ],
    };
  },
};

export const backendStopped: Scenario = {
  name: 'backend stopped (SIGSTOP)',
  async run(lab, o) {
    const held = await streams(lab, 30);
    const load = shorts(lab, 16);
    await sleep(2000);
    const onB3 = (await lab.stats()).backends.find((b) => b.name === 'b3')!.active;
    const at = Date.now();
    lab.pauseBackend('b3', true);
    // the http check (every 500 ms, 300 ms timeout, fall 2) marks it down within about 1.6 s
    const detectMs = 3000;
    await sleep(o.quick ? 4000 : 6000);
    const down = (await lab.stats()).backends.find((b) => b.name === 'b3')!.op;
    lab.pauseBackend('b3', false);
    await sleep(3000);
    const short = await load.stop();
    const st = await held.stop();
    const late = lostAfter(short, at, detectMs);
    return {
      short,
      streams: st,
      unexpected: late + Math.max(0, lost(st) - onB3),
      expected: `connections sent to b3 before its checks failed; streams on it (${onB3})`,
      notes: [
        `b3 was ${down} while stopped`,
        `short connections lost: ${lost(short)} (${codes(short)}), started after detection: ${late}`,
        `streams lost: ${codes(st)}`,
      ],
    };
  },
};

export const reloads: Scenario = {
  name: '20 reloads',
  async run(lab) {
    const held = await streams(lab, 20);
    const load = shorts(lab, 16);
    const gen0 = (await lab.ctl<{ generation: number }>('show info')).generation;
    for (let i = 1; i <= 20; i++) {
      lab.writeConfig(i % 2 === 1 ? 2 : 1);
      lab.signal('SIGHUP');
      await sleep(300);
    }
    await sleep(1000);
    const gen = (await lab.ctl<{ generation: number }>('show info')).generation;
    lab.writeConfig(1);
    const short = await load.stop();
    const st = await held.stop();
    return {
      short,
      streams: st,
      unexpected: lost(short) + lost(st),
      expected: 'none',
      notes: [`generation ${gen0} -> ${gen} (a reload signalled while one runs is folded into it)`],
    };
  },
};
