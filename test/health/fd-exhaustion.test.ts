// A probe that could not be made because netmon is out of file descriptors
// says nothing of the backend: rise/fall do not count it, the backend keeps its
// state, and probing goes on at the same interval.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { OpState } from '../../daemon/state/names.js';
import { guardProbe } from '../../daemon/control/health/probe-guard.js';
import type { ProbeResult } from '../../daemon/control/health/probe-types.js';
import { Harness, ok, tcpCheck } from './harness.js';

const noFds: ProbeResult = {
  ok: false,
  durationMs: 0,
  detail: 'netmon is out of file descriptors (EMFILE)',
  local: true,
};

test('probes without descriptors neither fail a backend nor count towards fall', async () => {
  const h = new Harness();
  h.fallback = noFds;
  h.watch(h.backend(0, { check: tcpCheck({ rise: 2, fall: 2 }) }));
  await h.clock.advance(500 + 9 * 1000);
  assert.equal(h.callsOf(0).length, 10, 'probing goes on');
  assert.equal(h.table.backends.opState(0), OpState.Up);
  assert.equal(h.table.backends.healthCount(0), 0, 'nothing counted towards fall');
  assert.equal(h.events.length, 0);
  assert.equal(h.checker.counters().probesWithoutFds, 10);
  assert.equal(h.checker.counters().probes, 0);
  h.fallback = ok;
  await h.clock.advance(1000);
  assert.equal(h.checker.counters().probes, 1);
  h.checker.stop();
});

test('a probe whose socket fails with EMFILE or ENFILE is marked local; ECONNREFUSED is not', async () => {
  const err = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`connect ${code}`), { code });
  const run = (code: string): Promise<ProbeResult> =>
    guardProbe(1000, undefined, (s) => {
      const sock = new net.Socket();
      setImmediate(() => s.fail(err(code)));
      return () => sock.destroy();
    });
  const emfile = await run('EMFILE');
  assert.deepEqual(
    [emfile.ok, emfile.local, emfile.detail],
    [false, true, 'netmon is out of file descriptors (EMFILE)'],
  );
  assert.equal((await run('ENFILE')).local, true);
  const refused = await run('ECONNREFUSED');
  assert.deepEqual([refused.ok, refused.local], [false, undefined]);
});
