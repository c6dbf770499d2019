// The same ECMP graceful stop with neither announce_drain (its default, 0) nor
// flow pinning in the router: the contrast docs/fleet.md sets against
// ecmp.test.ts, which loses nothing. The listeners close at SIGTERM, before the
// route is withdrawn, so connections the router still sends to the instance are
// refused until the withdrawal reaches it; and when the route changes, the
// router hashes the open connections of the stopped instance to the other one,
// which resets them: held connections are cut, however long drain_timeout is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, labUnavailable, until } from './lab.js';
import { Clients, lbAddress, lbBackendSide } from './fleet-lab.js';
import { startEcmpFleet } from './routing.js';
import { countBy, describe, inFlightDuring, printFigures, REFUSED } from './flows.js';

const VIP = '10.9.0.1';
const RATE = 300;
const PHASE_FLOWS = 400;
const SLACK_MS = 50;
/** a short flow's pause between greeting and echo: about RATE x DWELL_MS / 1000 are open at any time */
const DWELL_MS = 200;
const HELD = 20;

test(
  'ECMP without announce_drain or flow pinning: a graceful stop refuses what is routed to it until its route is withdrawn, and the route change cuts its open connections',
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
        pinning: false,
      });
      const clients = await Clients.start(lab, { host: VIP, port: 80, sources, rate: RATE, dwellMs: DWELL_MS });
      assert.equal(await clients.hold(HELD), HELD, 'every held flow is established');
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

      // held flows: the stopped instance's live until the route changes (closing the
      // listeners does not touch them), then each is reset by the other instance
      const held = clients.flows.filter((f) => f.kind === 'held');
      const heldStopped = held.filter((f) => f.via === lbBackendSide(2));
      const heldOther = held.filter((f) => f.via === lbBackendSide(1));
      assert.ok(heldStopped.length > 0 && heldOther.length > 0, 'held flows on both instances');
      assert.deepEqual(
        heldStopped.filter((f) => f.ok || f.end < flip - SLACK_MS),
        [],
        'every held flow of the stopped instance is cut, at the route change',
      );
      assert.ok(
        heldOther.every((f) => f.ok),
        'held flows of the other instance live on',
      );

      printFigures(t, 'ecmp-plain', {
        instances: 2,
        flow_rate_per_s: RATE,
        withdrawn_after_sigterm_ms: Math.round(flip - tStop),
        refused: refused.length,
        failed: failed.length,
        failed_errors: JSON.stringify(countBy(failed, (f) => f.err ?? '')),
        short_reset_in_flight_at_route_change: failed.filter((f) => f.err !== REFUSED).length,
        held_cut_at_route_change: `${heldStopped.length} of ${heldStopped.length} on the stopped instance`,
        held_cut_errors: JSON.stringify(countBy(heldStopped, (f) => f.err ?? '')),
        held_survived: `${heldOther.length} of ${heldOther.length} on the other instance`,
      });
    } finally {
      await lab.close();
    }
  },
);
