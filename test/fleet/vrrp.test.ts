// A VRRP pair in network namespaces, with real keepalived running conf/keepalived.conf:
// lb1 and lb2 run netmon bound to the virtual address (ip_nonlocal_bind), and
// keepalived's track script asks each one `netmon ctl show health`. Clients
// connect to the virtual address in a steady stream; netmon in the master is
// killed. The address must move to lb2 within 3 s, every connection started
// after the move must succeed, and the connections lost during it are counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, labUnavailable, until } from './lab.js';
import { AddressWatch, buildHosts, Clients, lbBackendSide, startBackends, startNetmon } from './fleet-lab.js';
import { startKeepalived } from './routing.js';
import { countBy, describe, printFigures, startedIn } from './flows.js';

const VIP = '10.0.0.100';
const RATE = 150;
const MOVE_WITHIN_MS = 3000;
/** successful flows each phase waits for (about 1.5 s at RATE on an idle machine) */
const PHASE_FLOWS = 200;
/** clock and scheduling slack between the address monitor and the clients, ms */
const SLACK_MS = 50;

async function hasVip(lab: Lab, lb: number): Promise<boolean> {
  return (await lab.ip(`lb${lb}`, '-br', 'addr', 'show', 'dev', 'eth0')).includes(`${VIP}/24`);
}

test(
  'VRRP pair: netmon killed in the master, the address moves within 3 s and later connections succeed',
  {
    timeout: 120_000,
  },
  async (t) => {
    const why = await labUnavailable();
    if (why) return t.skip(why);
    const lab = new Lab('vrrp');
    try {
      const sources = await buildHosts(lab, 2, 250);
      // both bind the virtual address; only the master holds it
      for (const lb of [1, 2]) await lab.sysctl(`lb${lb}`, 'net.ipv4.ip_nonlocal_bind=1');
      await startBackends(lab);
      const [lb1, lb2] = await Promise.all(
        [1, 2].map((lb) =>
          startNetmon(lab, lb, { bind: `${VIP}:80`, order: lb === 1 ? [0, 1, 2] : [2, 0, 1], announceDrain: '2s' }),
        ),
      );
      const moved = new AddressWatch(lab, 'lb2', VIP);
      const k1 = startKeepalived(lab, lb1!, VIP);
      const k2 = startKeepalived(lab, lb2!, VIP);
      // settled: lb1 holds the address and lb2 has seen it and stays backup
      await until(
        'lb1 master, lb2 backup',
        async () => (await hasVip(lab, 1)) && lab.tail(k2, 200).includes('Entering BACKUP STATE'),
        20_000,
        100,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\nlb1:\n${lab.tail(k1)}\nlb2:\n${lab.tail(k2)}`);
      });
      assert.equal(await hasVip(lab, 2), false, 'only the master holds the address');

      const clients = await Clients.start(lab, { host: VIP, port: 80, sources, rate: RATE });
      const t0 = Date.now();
      clients.send({ cmd: 'start' });
      await clients.succeeded(PHASE_FLOWS);
      const tKill = Date.now();
      lb1!.proc.child.kill('SIGKILL');
      const tMove = await until(
        'the address on lb2',
        () => moved.added.find((x) => x > tKill - SLACK_MS) ?? null,
        10_000,
        20,
      );
      await clients.succeeded(PHASE_FLOWS);
      await clients.stop();

      const flows = clients.flows;
      // done before the kill (the ones in flight at the kill belong to the move)
      const before = flows.filter((f) => f.end < tKill);
      const strayBefore = before.filter((f) => !f.ok || f.via !== lbBackendSide(1));
      assert.ok(before.length > 0, 'flows before the kill');
      assert.equal(strayBefore.length, 0, `lb1 served every flow before the kill:\n${describe(strayBefore, t0)}`);
      const moveMs = tMove - tKill;
      assert.ok(moveMs < MOVE_WITHIN_MS, `the address moved in ${moveMs} ms`);
      assert.equal(await hasVip(lab, 1), false, 'lb1 gave the address up');
      const after = startedIn(flows, tMove + SLACK_MS);
      const afterFailed = after.filter((f) => !f.ok);
      assert.ok(after.length > 0);
      assert.equal(afterFailed.length, 0, `failed after the move:\n${describe(afterFailed, tMove)}`);
      assert.ok(
        after.every((f) => f.via === lbBackendSide(2)),
        'lb2 serves after the move',
      );
      const during = flows.filter((f) => f.end >= tKill && f.start < tMove + SLACK_MS);
      const duringFailed = during.filter((f) => !f.ok);
      const firstOkAfterKill = Math.min(...flows.filter((f) => f.ok && f.start > tKill).map((f) => f.end));

      printFigures(t, 'vrrp', {
        flows: flows.length,
        flow_rate_per_s: RATE,
        address_moved_after_kill_ms: Math.round(moveMs),
        first_success_after_kill_ms: Math.round(firstOkAfterKill - tKill),
        started_during_move: during.length,
        failed_during_move: duringFailed.length,
        failed_errors: JSON.stringify(countBy(duringFailed, (f) => f.err ?? '')),
        slow_during_move_over_1s: during.filter((f) => f.ok && f.end - f.start > 1000).length,
        failed_after_move: afterFailed.length,
      });
    } finally {
      await lab.close();
    }
  },
);
