// The descriptor figures: counted from /proc without using one, the soft limit
// parsed, EMFILE/ENFILE told apart from a peer's errors, and the start-up
// warning when the limit is below what max_connections needs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
import { parseConfig } from '../../daemon/config/load.js';
import { fdLimitWarning, fdsNeeded } from '../../daemon/control/fd-check.js';
import { fdLimit, fdReserve, isFdExhaustion, openFds } from '../../daemon/process-fds.js';

const config = (top: string, listenerMax = 0): ReturnType<typeof parseConfig> =>
  parseConfig(
    `workers = 2\n${top}\n[[listener]]\nname = "a"\nbind = "127.0.0.1:0"\npool = "p"\nmax_connections = ${listenerMax}\n` +
      `[[listener]]\nname = "b"\nbind = "127.0.0.1:0"\npool = "p"\nmax_connections = ${listenerMax}\n` +
      '[pool.p]\n[[pool.p.backend]]\nname = "x"\naddress = "127.0.0.1:1"\n[[pool.p.backend]]\nname = "y"\naddress = "127.0.0.1:2"\n',
    't.toml',
  );

test('open descriptors are counted, one more for each file opened', () => {
  const before = openFds();
  assert.ok(before > 0);
  const fd = openSync('/dev/null', 'r');
  try {
    assert.equal(openFds(), before + 1);
  } finally {
    closeSync(fd);
  }
  assert.equal(openFds(), before);
});

test('the soft limit is read from /proc/self/limits; the reserve follows it within bounds', () => {
  const limit = fdLimit();
  assert.ok(limit === Infinity || (Number.isSafeInteger(limit) && limit > 0));
  assert.equal(fdReserve(256), 32);
  assert.equal(fdReserve(65536), 1024);
  assert.equal(fdReserve(1_048_576), 1024);
  assert.equal(fdReserve(Infinity), 0);
});

test('EMFILE and ENFILE are local resource errors; a peer refusing is not', () => {
  const err = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });
  assert.equal(isFdExhaustion(err('EMFILE')), true);
  assert.equal(isFdExhaustion(err('ENFILE')), true);
  assert.equal(isFdExhaustion(err('ECONNREFUSED')), false);
  assert.equal(isFdExhaustion(null), false);
});

test('descriptors needed: two per connection of max_connections, listeners per worker, probes, the main thread', () => {
  // 2 x 1000 + 2 listeners x 2 workers + 2 backends + 64
  assert.equal(fdsNeeded(config('max_connections = 1000')), 2070);
  // no global limit: the listeners' own, summed
  assert.equal(fdsNeeded(config('', 300)), 2 * 600 + 4 + 2 + 64);
  // nothing bounds the connections
  assert.equal(fdsNeeded(config('')), null);
  assert.match(
    fdLimitWarning(config('max_connections = 1000'), 1024)!,
    /file descriptor limit \(1024\) is below the 2070 that max_connections needs/,
  );
  assert.equal(fdLimitWarning(config('max_connections = 1000'), 65536), null);
  assert.equal(fdLimitWarning(config(''), 256), null);
});
