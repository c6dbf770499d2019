// The access lines of refused connections are bounded per worker: past
// REFUSAL_LINES_PER_SECOND they are counted, by reason, and one warning says how
// many were left out once lines flow again. A fake clock drives the bucket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REFUSAL_LINES_PER_SECOND, RefusalLines, type AccessRecord } from '../../daemon/data/access-log.js';
import { setLogSink } from '../../daemon/log.js';
import type { RejectReason } from '../../daemon/state/names.js';

function refused(reason: RejectReason): AccessRecord {
  return {
    client: '192.0.2.7',
    listener: 'web',
    pool: null,
    backend: null,
    bytesIn: 0,
    bytesOut: 0,
    connectMs: -1,
    firstByteMs: -1,
    durationMs: 0.2,
    termination: 'rejected',
    error: null,
    attempts: 0,
    reason,
    worker: 1,
  };
}

test('refusal lines: a burst of the rate is written, the rest counted by reason and reported once', (t) => {
  const lines: Record<string, unknown>[] = [];
  setLogSink((l) => lines.push(JSON.parse(l) as Record<string, unknown>));
  t.after(() => setLogSink((l) => process.stdout.write(l)));
  let now = 1000;
  let counted = 0;
  const r = new RefusalLines(
    1,
    (n) => (counted += n),
    () => now,
  );
  const n = REFUSAL_LINES_PER_SECOND;
  const reasonOf = (i: number): RejectReason => (i % 3 === 0 ? 'acl' : 'rate_limit');
  for (let i = 0; i < 3 * n; i++) r.write(refused(reasonOf(i)));
  const left = { acl: 0, rate_limit: 0 };
  for (let i = n; i < 3 * n; i++) left[reasonOf(i) as keyof typeof left]++;
  const access = (): Record<string, unknown>[] => lines.filter((l) => l['msg'] === 'access');
  assert.equal(access().length, n, 'the burst');
  assert.equal(counted, 2 * n, 'the rest counted');
  assert.deepEqual(access()[0], { ...access()[0], reason: 'acl', termination: 'rejected', pool: null, error: null });
  // a tenth of a second refills a tenth of the rate: the first line after the pause says what was left out
  now += 100;
  r.write(refused('proxy_header'));
  const warned = lines.filter((l) => l['msg'] === 'access refusals suppressed');
  assert.equal(warned.length, 1);
  assert.deepEqual(
    { ...warned[0], time: undefined },
    {
      level: 'warn',
      time: undefined,
      msg: 'access refusals suppressed',
      suppressed: 2 * n,
      reasons: left,
      lines_per_second: n,
      worker: 1,
    },
  );
  assert.equal(access().at(-1)!['reason'], 'proxy_header');
  for (let i = 0; i < n / 10; i++) r.write(refused('acl'));
  assert.equal(access().length, n + n / 10, 'the refill, not more');
  assert.equal(counted, 2 * n + 1);
  r.flush();
  assert.equal(lines.filter((l) => l['msg'] === 'access refusals suppressed').length, 2);
  r.flush();
  assert.equal(lines.filter((l) => l['msg'] === 'access refusals suppressed').length, 2, 'nothing new to say');
});
