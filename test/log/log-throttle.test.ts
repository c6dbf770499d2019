// A line that could repeat per connection is written at most `burst` times per
// window; the next window's first line says how many were left out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogThrottle } from '../../daemon/log-throttle.js';
import { setLogSink } from '../../daemon/log.js';

test('at most burst lines per window, then one line with the count left out', () => {
  const lines: Record<string, unknown>[] = [];
  setLogSink((l) => lines.push(JSON.parse(l) as Record<string, unknown>));
  let now = 0;
  const t = new LogThrottle(3, 1000, () => now);
  const written = Array.from({ length: 10 }, (_, i) => t.write('warn', 'out of fds', { i }));
  assert.deepEqual(written, [true, true, true, false, false, false, false, false, false, false]);
  assert.deepEqual(
    lines.map((l) => l['i']),
    [0, 1, 2],
  );
  now = 1500;
  assert.equal(t.write('warn', 'out of fds', { i: 10 }), true);
  assert.equal(lines.length, 5);
  assert.equal(lines[3]!['suppressed'], 7);
  assert.match(String(lines[3]!['msg']), /^7 more like this/);
  assert.equal(lines[4]!['i'], 10);
});
