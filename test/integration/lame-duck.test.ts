// The lame-duck stop on a real `bin/netmon daemon` process: with announce_drain
// set, a graceful stop (SIGTERM or `netmon ctl stop`) first reports unhealthy
// while it still accepts and relays, so keepalived or a BGP speaker moves the
// traffic away; only then do the listeners close and the usual drain begin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { waitFor, whoAnswers } from '../helpers/servers.js';
import { NETMON } from '../systemd/child-daemon.js';
import { HeldConnection } from './reload-helpers.js';
import { refused, withStoppable } from './stop-helpers.js';
import type { HealthReport } from '../../daemon/control/service-health.js';
import type { StopAck } from '../../daemon/control/socket/context.js';

test('SIGTERM with announce_drain: unhealthy at once while still accepting, listeners close only after it, then the drain', async () => {
  const announceMs = 3000;
  await withStoppable({ drainTimeout: '10s', top: `announce_drain = "${announceMs}ms"\n` }, async ({ port, d }) => {
    const held = await HeldConnection.open(port);
    const tStop = Date.now();
    d.child.kill('SIGTERM');
    await waitFor(
      async () => ((await d.ctl('show-health')) as HealthReport).phase === 'lame_duck',
      5000,
      'the lame duck',
    );
    const h = (await d.ctl('show-health')) as HealthReport;
    assert.equal(h.healthy, false);
    assert.deepEqual(
      h.reasons.map((r) => r.code),
      ['stopping'],
    );
    // new clients are still served, and open connections relay
    assert.equal(await whoAnswers(port), 'b1');
    await held.echo('lame duck');
    await waitFor(() => refused(port), announceMs + 10_000, 'the listener to close');
    assert.ok(Date.now() - tStop >= announceMs, 'the listener stayed open for announce_drain');
    assert.equal(((await d.ctl('show-health')) as HealthReport).phase, 'draining');
    await held.echo('draining');
    held.end();
    assert.equal(await d.exited, 0);
    assert.equal(held.error, null);
    const lines = logLines(d.stdout);
    assert.ok(
      lines.some(
        (l) =>
          l.msg === 'stopping: reporting unhealthy while still accepting (announce_drain)' && l.signal === 'SIGTERM',
      ),
    );
    assert.ok(lines.some((l) => l.msg === 'instance unhealthy: /healthz answers 503'));
  });
});

test('`netmon ctl stop` starts the same stop and answers; asked again it is "already stopping"; a signal during the lame duck stops at once', async () => {
  await withStoppable({ drainTimeout: '10s', top: 'announce_drain = "30s"\n' }, async ({ port, d }) => {
    const out = await new Promise<{ code: number; stdout: string }>((resolve) =>
      execFile(NETMON, ['ctl', '--socket', d.sock, 'stop'], { timeout: 20_000 }, (err, stdout) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout }),
      ),
    );
    assert.equal(out.code, 0);
    assert.equal(
      out.stdout,
      'stopping: unhealthy for 30000 ms while still accepting, then up to 10000 ms for open connections\n',
    );
    const again = (await d.ctl('stop')) as StopAck;
    assert.deepEqual(again, { started: false, lameDuckMs: 30_000, drainTimeoutMs: 10_000 });
    assert.equal(((await d.ctl('show-health')) as HealthReport).phase, 'lame_duck');
    assert.equal(await whoAnswers(port), 'b1');
    const t = Date.now();
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0);
    assert.ok(Date.now() - t < 10_000, 'did not wait for the lame duck');
    const lines = logLines(d.stdout);
    assert.ok(lines.some((l) => l.msg === 'second stop signal: closing every connection now'));
    assert.ok(lines.some((l) => l.msg === 'control command' && l.command === 'stop'));
  });
});

/** The daemon's JSON log lines, parsed (lines that are not JSON are left out). */
function logLines(stdout: string[]): Record<string, unknown>[] {
  return stdout
    .join('')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
