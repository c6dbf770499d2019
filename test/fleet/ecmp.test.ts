// An ECMP fleet in network namespaces, with real BIRD: three netmon instances
// announce one virtual address over BGP (conf/bird.conf, switched by `netmon
// announce`), the router's BIRD merges the paths into one multipath route and
// the kernel spreads the clients' flows over the instances by their 4-tuple
// (fib_multipath_hash_policy = 1). Then one instance stops gracefully (the
// route is withdrawn during announce_drain, while it still accepts) and another
// is killed. The pool is ip_hash over the same backends, listed in a different
// order on each instance: a client reaches the same backend through any instance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, labUnavailable, until } from './lab.js';
import { Clients, lbAddress, lbBackendSide, type NetmonInstance } from './fleet-lab.js';
import { lbOfRouterSide, startEcmpFleet } from './routing.js';
import {
  clientsMovedAway,
  clientsThatChangedBackend,
  countBy,
  describe,
  inFlightDuring,
  printFigures,
  REFUSED,
  sharePerInstance,
  startedIn,
} from './flows.js';

const VIP = '10.9.0.1';
const LBS = 3;
/** b1..b3 in a different order on each instance */
const ORDERS = [
  [0, 1, 2],
  [2, 1, 0],
  [1, 2, 0],
];
const ANNOUNCE_DRAIN_MS = 3000;
const RATE = 150;
const HELD = 30;
/** successful flows each phase waits for (about 2 s at RATE on an idle machine) */
const PHASE_FLOWS = 300;
/** clock and scheduling slack between the route monitor and the clients, ms */
const SLACK_MS = 50;

test(
  'ECMP fleet: flows spread over 3 instances; a graceful stop is withdrawn before it refuses anything; a killed instance loses only its flows; ip_hash clients keep their backend',
  {
    timeout: 150_000,
  },
  async (t) => {
    const why = await labUnavailable();
    if (why) return t.skip(why);
    const lab = new Lab('ecmp');
    try {
      const { sources, netmons, routes, all } = await startEcmpFleet(lab, {
        lbs: LBS,
        vip: VIP,
        orders: ORDERS,
        announceDrain: `${ANNOUNCE_DRAIN_MS}ms`,
        sources: 250,
      });

      const clients = await Clients.start(lab, { host: VIP, port: 80, sources, rate: RATE });
      const held = await clients.hold(HELD);
      assert.equal(held, HELD, 'every held flow is established');
      const t0 = Date.now();
      clients.send({ cmd: 'start' });
      await clients.succeeded(PHASE_FLOWS);

      // graceful stop of the middle next hop: with the kernel's hash-threshold
      // multipath, only that instance's share of the hash space moves
      const stopped: NetmonInstance = netmons[lbOfRouterSide(all.via[1]!) - 1]!;
      const tStop = Date.now();
      stopped.proc.child.kill('SIGTERM');
      const withdrawn = await until(
        'the stopping instance to be withdrawn',
        () => routes.changes.find((c) => c.time > tStop - SLACK_MS && c.via.length === LBS - 1) ?? null,
        ANNOUNCE_DRAIN_MS + 5000,
        20,
      );
      await clients.succeeded(PHASE_FLOWS);

      // abrupt kill of one of the two left
      const killed: NetmonInstance = netmons[lbOfRouterSide(withdrawn.via[1]!) - 1]!;
      const survivor = netmons.find((n) => n !== stopped && n !== killed)!;
      const tKill = Date.now();
      killed.proc.child.kill('SIGKILL');
      const killWithdrawn = await until(
        'the killed instance to be withdrawn',
        () => routes.changes.find((c) => c.time > tKill - SLACK_MS && c.via.length === LBS - 2) ?? null,
        5000,
        20,
      );
      await clients.succeeded(PHASE_FLOWS);
      await clients.stop();

      const flows = clients.flows;
      const short = flows.filter((f) => f.kind === 'short');
      const heldFlows = flows.filter((f) => f.kind === 'held');
      const via = (n: NetmonInstance): string => lbBackendSide(n.lb);

      // each flow belongs to the phase it ended in: one in flight at the kill is the kill's
      const endedIn = (from: number, to: number) => short.filter((f) => f.end >= from && f.end < to);

      // steady state: every flow succeeds, spread over the three instances
      const steady = endedIn(t0, tStop);
      assert.deepEqual(
        steady.filter((f) => !f.ok),
        [],
        'no flow fails while all instances serve',
      );
      const share = sharePerInstance(steady);
      assert.equal(share.size, LBS, `flows reach every instance: ${[...share]}`);
      for (const [addr, pct] of share) assert.ok(pct > 15, `instance ${addr} gets ${pct}% of the flows`);

      // graceful stop: withdrawn during announce_drain; nothing refused; a flow fails
      // only if it was in flight when the route changed (its next packet went to
      // another instance, which has no such connection). The monitor reports the
      // change a little late on a busy machine, so "when" is between SIGTERM and then.
      const flip1 = withdrawn.time;
      assert.ok(flip1 - tStop < ANNOUNCE_DRAIN_MS, `withdrawn ${flip1 - tStop} ms after SIGTERM`);
      assert.ok(!withdrawn.via.includes(lbAddress(stopped.lb)), 'the stopped instance is the one withdrawn');
      const graceful = endedIn(tStop, tKill);
      const gracefulFailed = graceful.filter((f) => !f.ok);
      assert.deepEqual(
        gracefulFailed.filter((f) => f.err === REFUSED),
        [],
        'no connection refused by the stopping instance',
      );
      const strayGraceful = gracefulFailed.filter((f) => !inFlightDuring(f, tStop, flip1, SLACK_MS));
      assert.equal(
        strayGraceful.length,
        0,
        `failed, not in flight at the route change:\n${describe(strayGraceful, flip1)}`,
      );
      const lameDuckServed = graceful.filter((f) => f.ok && f.via === via(stopped) && f.start > tStop).length;
      const afterFlip1 = startedIn(short, flip1 + SLACK_MS, tKill);
      assert.ok(afterFlip1.length > 0);
      assert.ok(
        afterFlip1.every((f) => f.via !== via(stopped)),
        'after the withdrawal no new flow reaches the stopped instance',
      );

      // kill: withdrawn when the control socket closes; failures only among flows in
      // flight at the kill or started before the withdrawal
      const flip2 = killWithdrawn.time;
      assert.ok(flip2 - tKill < 2000, `withdrawn ${flip2 - tKill} ms after the kill`);
      const afterKill = endedIn(tKill, Infinity);
      const killFailed = afterKill.filter((f) => !f.ok);
      const strayKill = killFailed.filter((f) => f.start > flip2 + SLACK_MS);
      assert.equal(strayKill.length, 0, `failed after the withdrawal:\n${describe(strayKill, flip2)}`);
      const afterFlip2 = startedIn(short, flip2 + SLACK_MS);
      assert.ok(afterFlip2.length > 0 && afterFlip2.every((f) => f.ok && f.via === via(survivor)));

      // held flows: the stopped and the killed instance's are cut, not before their
      // route changed or the kill; the survivor's all finish cleanly
      const heldOf = (n: NetmonInstance) => heldFlows.filter((f) => f.via === via(n));
      assert.ok(
        heldOf(survivor).length > 0 && heldOf(survivor).every((f) => f.ok),
        'held flows of the survivor live on',
      );
      for (const f of heldOf(stopped)) assert.ok(!f.ok && f.end >= tStop, describe([f], tStop));
      for (const f of heldOf(killed)) assert.ok(!f.ok && f.end >= tKill, describe([f], tKill));

      // ip_hash: every client reached one backend, whichever instance relayed it
      const changed = clientsThatChangedBackend(flows);
      assert.equal(changed.size, 0, `clients that reached two backends: ${[...changed.keys()].slice(0, 5)}`);
      const moved = clientsMovedAway(short, via(killed), tKill);
      assert.ok(moved.length > 0, 'clients of the killed instance came back through the survivor');

      printFigures(t, 'ecmp', {
        instances: LBS,
        client_addresses: sources.length,
        flows: short.length,
        flow_rate_per_s: RATE,
        steady_share_percent: [...share].map(([a, p]) => `${a}=${p}`).join(' '),
        graceful_withdrawn_after_sigterm_ms: Math.round(flip1 - tStop),
        graceful_flows_accepted_in_lame_duck: lameDuckServed,
        graceful_refused: 0,
        graceful_failed_in_flight_at_route_change: gracefulFailed.length,
        graceful_failed_errors: JSON.stringify(countBy(gracefulFailed, (f) => f.err ?? '')),
        graceful_held_cut: `${heldOf(stopped).length} of ${heldOf(stopped).length} on the stopped instance`,
        kill_withdrawn_after_ms: Math.round(flip2 - tKill),
        kill_failed_flows: killFailed.length,
        kill_failed_errors: JSON.stringify(countBy(killFailed, (f) => f.err ?? '')),
        kill_held_cut: `${heldOf(killed).length} of ${heldOf(killed).length} on the killed instance`,
        held_survived: `${heldOf(survivor).length} of ${heldOf(survivor).length} on the survivor`,
        clients_moved_kept_backend: `${moved.length} of ${moved.length}`,
        clients_with_two_backends: changed.size,
      });
    } finally {
      await lab.close();
    }
  },
);
