// An ECMP fleet in network namespaces, with real BIRD: three netmon instances
// announce one virtual address over BGP (conf/bird.conf, switched by `netmon
// announce`), the router's BIRD merges the paths into one multipath route and
// the kernel spreads the clients' flows over the instances by their 4-tuple
// (fib_multipath_hash_policy = 1); the router pins each flow to the instance it
// started on (conf/router-flow-pinning.nft). Then one instance stops gracefully:
// the route is withdrawn during announce_drain, while it still accepts; new flows
// go to the others, and the flows it holds keep reaching it through its drain, so
// none fails. Then another is killed. The pool is ip_hash over the same backends,
// listed in a different order on each instance: a client reaches the same backend
// through any instance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, labUnavailable, until } from './lab.js';
import { Clients, health, lbAddress, lbBackendSide, type NetmonInstance } from './fleet-lab.js';
import { lbOfRouterSide, startEcmpFleet } from './routing.js';
import {
  clientsMovedAway,
  clientsThatChangedBackend,
  countBy,
  describe,
  printFigures,
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
/** startNetmon's drain_timeout */
const DRAIN_TIMEOUT_MS = 5000;
const RATE = 150;
const HELD = 30;
/** successful flows each phase waits for (about 2 s at RATE on an idle machine) */
const PHASE_FLOWS = 300;
/** clock and scheduling slack between the route monitor and the clients, ms */
const SLACK_MS = 50;
/** a short flow's pause between greeting and echo: about RATE x DWELL_MS / 1000 are open at any time */
const DWELL_MS = 200;

test(
  'ECMP fleet with flow pinning: flows spread over 3 instances; a graceful stop loses no connection (withdrawn while accepting, its open flows pinned to it through the drain); a killed instance loses only its flows; ip_hash clients keep their backend',
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
        pinning: true,
      });

      const clients = await Clients.start(lab, { host: VIP, port: 80, sources, rate: RATE, dwellMs: DWELL_MS });
      const held = await clients.hold(HELD);
      assert.equal(held, HELD, 'every held flow is established');
      const t0 = Date.now();
      clients.send({ cmd: 'start' });
      await clients.succeeded(PHASE_FLOWS);

      // graceful stop of the first next hop: with the kernel's hash-threshold
      // multipath its withdrawal also shifts part of its neighbour's hash space,
      // and with it some of the neighbour's open flows, unless they are pinned
      const stopped: NetmonInstance = netmons[lbOfRouterSide(all.via[0]!) - 1]!;
      const tStop = Date.now();
      stopped.proc.child.kill('SIGTERM');
      const withdrawn = await until(
        'the stopping instance to be withdrawn',
        () => routes.changes.find((c) => c.time > tStop - SLACK_MS && c.via.length === LBS - 1) ?? null,
        ANNOUNCE_DRAIN_MS + 5000,
        20,
      );
      // new flows go to the others while the lame duck ends and the drain begins
      const [tDraining] = await Promise.all([
        until(
          'the stopped instance to close its listeners and drain',
          async () => {
            if (stopped.proc.child.exitCode !== null) throw new Error('the stopped instance exited before draining');
            return (await health(stopped).catch(() => null))?.phase === 'draining' ? Date.now() : null;
          },
          ANNOUNCE_DRAIN_MS + 5000,
          20,
        ),
        clients.succeeded(PHASE_FLOWS),
      ]);
      // its held flows, still pinned to it, finish their exchange in the drain,
      // and with them gone the drain ends before drain_timeout
      const released = await clients.release(lbBackendSide(stopped.lb));
      const stoppedCode = await stopped.proc.exited;
      const tStoppedExit = Date.now();

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

      // graceful stop: withdrawn during announce_drain, and no flow fails: the flows
      // in flight when the route changed, and those the stopping instance accepted
      // in the lame duck, stay pinned to it and complete
      const flip1 = withdrawn.time;
      assert.ok(flip1 - tStop < ANNOUNCE_DRAIN_MS, `withdrawn ${flip1 - tStop} ms after SIGTERM`);
      assert.ok(!withdrawn.via.includes(lbAddress(stopped.lb)), 'the stopped instance is the one withdrawn');
      const graceful = endedIn(tStop, tKill);
      const gracefulFailed = graceful.filter((f) => !f.ok);
      assert.equal(gracefulFailed.length, 0, `failed during the graceful stop:\n${describe(gracefulFailed, flip1)}`);
      const lameDuckServed = graceful.filter((f) => f.via === via(stopped) && f.start > tStop).length;
      const inFlightAtFlip = graceful.filter((f) => f.via === via(stopped) && f.start < flip1 && f.end > flip1).length;
      assert.ok(inFlightAtFlip > 0, 'short flows of the stopped instance were in flight at the route change');
      const afterFlip1 = startedIn(short, flip1 + SLACK_MS, tKill);
      assert.ok(afterFlip1.length > 0);
      assert.ok(
        afterFlip1.every((f) => f.via !== via(stopped)),
        'after the withdrawal no new flow reaches the stopped instance',
      );
      // held flows: open across the route change, exchanging until released after
      // the listeners closed, then closed cleanly both ways
      const heldOf = (n: NetmonInstance) => heldFlows.filter((f) => f.via === via(n));
      const heldStopped = heldOf(stopped);
      assert.ok(heldStopped.length > 0, 'the stopped instance held flows');
      const heldCut = heldStopped.filter((f) => !f.ok || f.end < tDraining);
      assert.equal(
        heldCut.length,
        0,
        `held flows of the stopped instance that did not finish in its drain:\n${describe(heldCut, flip1)}`,
      );
      assert.equal(released.length, heldStopped.length);
      assert.equal(stoppedCode, 0, `the stopped instance exits 0:\n${lab.tail(stopped.proc)}`);
      assert.ok(
        tStoppedExit - tDraining < DRAIN_TIMEOUT_MS,
        `the drain ended when its connections did (${tStoppedExit - tDraining} ms), not at drain_timeout`,
      );

      // kill: withdrawn when the control socket closes; failures only among flows in
      // flight at the kill or started before the withdrawal
      const flip2 = killWithdrawn.time;
      assert.ok(flip2 - tKill < 2000, `withdrawn ${flip2 - tKill} ms after the kill`);
      const afterKill = endedIn(tKill, Infinity);
      const killFailed = afterKill.filter((f) => !f.ok);
      const strayKill = killFailed.filter((f) => f.start > flip2 + SLACK_MS);
      assert.equal(strayKill.length, 0, `failed after the withdrawal:\n${describe(strayKill, flip2)}`);
      // only the killed instance's flows fail (or SYNs it got before the withdrawal: no greeting)
      const othersFailed = killFailed.filter((f) => f.via !== null && f.via !== via(killed));
      assert.equal(othersFailed.length, 0, `failed on another instance:\n${describe(othersFailed, tKill)}`);
      const afterFlip2 = startedIn(short, flip2 + SLACK_MS);
      assert.ok(afterFlip2.length > 0 && afterFlip2.every((f) => f.ok && f.via === via(survivor)));

      // held flows: the killed instance's are cut, not before the kill (nor at the
      // first route change: pinned, they did not shift); the survivor's all finish cleanly
      assert.ok(
        heldOf(survivor).length > 0 && heldOf(survivor).every((f) => f.ok),
        'held flows of the survivor live on',
      );
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
        graceful_flows_in_flight_at_route_change: inFlightAtFlip,
        graceful_failed: gracefulFailed.length,
        graceful_held_finished_in_drain: `${heldStopped.length} of ${heldStopped.length} on the stopped instance`,
        graceful_listeners_closed_after_sigterm_ms: Math.round(tDraining - tStop),
        graceful_drain_ms: Math.round(tStoppedExit - tDraining),
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
