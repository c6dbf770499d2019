// The descriptor figures: counted from /proc without using one, the soft limit
// parsed, EMFILE/ENFILE told apart from a peer's errors, and the start-up
// warning when the limit is below what max_connections needs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../daemon/config/load.js';
import { fdLimitWarning, fdsNeeded } from '../../daemon/control/fd-check.js';
import { maxBudget } from '../../daemon/data/fd-guard.js';
import { loadRelayAddon } from '../../daemon/data/native/addon.js';
import { fdLimit, fdReserve, isFdExhaustion, openFds } from '../../daemon/process-fds.js';

const PROCESS_FDS = fileURLToPath(new URL('../../daemon/process-fds.js', import.meta.url));

/** The soft limit as /proc/self/limits of process `pid` gives it */
function procLimit(pid: number | 'self'): number {
  const m = /^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  return Number(m![1]);
}

/**
 * [open descriptors, limit] as another process counts them under `prlimit
 * --nofile=LIMIT`, with the addon (the default) or without it (a path that
 * does not load: the /proc fallback).
 */
function countElsewhere(limit: number, addon: boolean): [number, number] {
  const script = `const m = await import(${JSON.stringify(PROCESS_FDS)}); console.log(JSON.stringify([m.openFds(), m.fdLimit()]));`;
  const env = { ...process.env, NETMON_RELAY_ADDON: addon ? process.env['NETMON_RELAY_ADDON'] : '/nonexistent.node' };
  if (env.NETMON_RELAY_ADDON === undefined) delete env.NETMON_RELAY_ADDON;
  const r = spawnSync(
    'prlimit',
    [`--nofile=${limit}:${limit}`, '--', process.execPath, '--input-type=module', '-e', script],
    { encoding: 'utf8', env },
  );
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as [number, number];
}

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

test('the soft limit is the one in force, also when changed while running; the reserve follows it within bounds', () => {
  const limit = fdLimit();
  assert.equal(limit, procLimit('self'));
  // lowered and raised again from outside, as an operator's prlimit does
  const set = (n: number): void => {
    const r = spawnSync('prlimit', [`--pid=${process.pid}`, `--nofile=${n}:`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  };
  set(limit - 7);
  try {
    assert.equal(fdLimit(), limit - 7);
  } finally {
    set(limit);
  }
  assert.equal(fdLimit(), limit);
  assert.equal(fdReserve(256), 32);
  assert.equal(fdReserve(65536), 1024);
  assert.equal(fdReserve(1_048_576), 1024);
  assert.equal(fdReserve(Infinity), 0);
});

test('with the native addon and without it, the same count and limit', () => {
  const loaded = loadRelayAddon();
  assert.ok('addon' in loaded, 'error' in loaded ? loaded.error : '');
  assert.equal(loaded.addon.fdLimit(), procLimit('self'));
  assert.equal(loaded.addon.openFds(), readdirSync('/proc/self/fd').length - 1);
  const [fds, limit] = countElsewhere(300, true);
  const [fdsProc, limitProc] = countElsewhere(300, false);
  assert.equal(limit, 300);
  assert.equal(limitProc, 300);
  assert.ok(fds > 3 && fds < 100, `open ${fds}`);
  // the same start-up of Node, give or take the descriptor the fallback keeps on /proc/self/limits
  assert.ok(Math.abs(fds - fdsProc) <= 2, `addon ${fds}, /proc ${fdsProc}`);
});

test('a worker counts again after at most reserve / (4 x workers) accepts, 8 at the least', () => {
  assert.equal(maxBudget(fdReserve(256), 2), 8);
  assert.equal(maxBudget(fdReserve(256), 1), 8);
  assert.equal(maxBudget(fdReserve(20_000), 1), 78);
  assert.equal(maxBudget(fdReserve(20_000), 2), 39);
  assert.equal(maxBudget(fdReserve(1_048_576), 4), 64);
  // what all workers but one may still accept after it paused stays within the reserve
  for (const limit of [256, 1024, 4096, 20_000, 65_536]) {
    for (const workers of [1, 2, 4, 8]) {
      const reserve = fdReserve(limit);
      if (reserve < 2 * 8 * workers) continue; // below that, the reserve is for fewer workers (fd-guard.ts)
      assert.ok(2 * maxBudget(reserve, workers) * (workers - 1) <= reserve, `${limit} / ${workers}`);
    }
  }
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
