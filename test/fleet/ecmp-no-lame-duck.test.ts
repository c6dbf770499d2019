// The same ECMP graceful stop without announce_drain (its default, 0): the
// listeners close at SIGTERM, before the route is withdrawn, so connections the
// router still sends to the instance are refused until the withdrawal reaches
// it. The figure docs/fleet.md sets against the lame-duck stop, which refuses none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, labUnavailable, until } from './lab.js';
import { Clients, lbAddress } from './fleet-lab.js';
import { startEcmpFleet } from './routing.js';
import { countBy, describe, inFlightDuring, printFigures, REFUSED } from './flows.js';

const VIP = '10.9.0.1';
const RATE = 300;
const PHASE_FLOWS = 400;
const SLACK_MS = 50;

test(
  'ECMP without announce_drain: a graceful stop refuses what is routed to it until its route is withdrawn, nothing after',
  {
    timeout: 120_000,
  },
  async (t) => {
    const why = await labUnavailable();
    if (why) return t.skip(why);
    const lab = new Lab('ecmp0');
    try {
      const { sources, netmons, routes } = await startEcmpFleet(lab, {
        lbs: 2,
        vip: VIP,
        orders: [
          [0, 1, 2],
          [1, 2, 0],
        ],
        announceDrain: '0s',
        sources: 250,
      });
      const clients = await Clients.start(lab, { host: VIP, port: 80, sources, rate: RATE });
      clients.send({ cmd: 'start' });
      await clients.succeeded(PHASE_FLOWS);
      const stopped = netmons[1]!;
      const tStop = Date.now();
      stopped.proc.child.kill('SIGTERM');
      const withdrawn = await until(
        'the stopped instance to be withdrawn',
        () => routes.changes.find((c) => c.time > tStop - SLACK_MS && c.via.length === 1) ?? null,
        10_000,
        20,
      );
      assert.deepEqual(withdrawn.via, [lbAddress(1)]);
      await clients.succeeded(PHASE_FLOWS);
      await clients.stop();

      const flip = withdrawn.time;
      const short = clients.flows.filter((f) => f.kind === 'short');
      const failed = short.filter((f) => !f.ok && f.end >= tStop);
      const refused = failed.filter((f) => f.err === REFUSED);
      // refused: sent between SIGTERM and the withdrawal; reset: in flight when the route changed
      const strayRefused = refused.filter((f) => f.start < tStop - SLACK_MS || f.start > flip + SLACK_MS);
      assert.equal(strayRefused.length, 0, `refused outside SIGTERM..withdrawal:\n${describe(strayRefused, tStop)}`);
      const stray = failed.filter((f) => !inFlightDuring(f, tStop, flip, SLACK_MS));
      assert.equal(
        stray.length,
        0,
        `failed, not in flight between SIGTERM and the withdrawal:\n${describe(stray, tStop)}`,
      );
      assert.ok(
        short.filter((f) => f.start > flip + SLACK_MS).every((f) => f.ok),
        'every connection after the withdrawal succeeds',
      );
      assert.ok(
        short.filter((f) => f.end < tStop).every((f) => f.ok),
        'every connection before the stop succeeds',
      );

      printFigures(t, 'ecmp-no-lame-duck', {
        instances: 2,
        flow_rate_per_s: RATE,
        withdrawn_after_sigterm_ms: Math.round(flip - tStop),
        refused: refused.length,
        failed: failed.length,
        failed_errors: JSON.stringify(countBy(failed, (f) => f.err ?? '')),
      });
    } finally {
      await lab.close();
    }
  },
);
