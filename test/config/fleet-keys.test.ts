// The config keys of a fleet member: announce_drain (the lame-duck period of a
// graceful stop) and a pool's `critical` flag (its outage makes /healthz 503).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../daemon/config/load.js';
import { ConfigErrors } from '../../daemon/errors.js';

const MINIMAL = `
[[listener]]
name = "web"
bind = "127.0.0.1:8080"
pool = "web"
[pool.web]
[[pool.web.backend]]
name = "b1"
address = "127.0.0.1:5001"
`;

function codesOf(text: string): string[] {
  try {
    parseConfig(text, 't.toml');
  } catch (err) {
    if (err instanceof ConfigErrors) return err.errors.map((e) => `${e.path} ${e.code}`);
    throw err;
  }
  return [];
}

test('announce_drain defaults to 0 (listeners close at once, as before) and reads as ms', () => {
  assert.equal(parseConfig(MINIMAL, 't.toml').announceDrain, 0);
  assert.equal(parseConfig(`announce_drain = "5s"\n${MINIMAL}`, 't.toml').announceDrain, 5000);
  assert.equal(parseConfig(`announce_drain = "1500ms"\n${MINIMAL}`, 't.toml').announceDrain, 1500);
});

test('announce_drain: a bare number, a negative or more than 10 minutes is refused', () => {
  assert.deepEqual(codesOf(`announce_drain = 5\n${MINIMAL}`), ['announce_drain E_DURATION']);
  assert.deepEqual(codesOf(`announce_drain = "5"\n${MINIMAL}`), ['announce_drain E_DURATION']);
  assert.deepEqual(codesOf(`announce_drain = "-1s"\n${MINIMAL}`), ['announce_drain E_DURATION']);
  assert.deepEqual(codesOf(`announce_drain = "11m"\n${MINIMAL}`), ['announce_drain E_RANGE']);
  assert.deepEqual(codesOf(`announce_drian = "5s"\n${MINIMAL}`), ['announce_drian E_UNKNOWN_KEY']);
});

test('a pool is not critical unless it says so; critical must be a boolean', () => {
  assert.equal(parseConfig(MINIMAL, 't.toml').pools[0]!.critical, false);
  const c = parseConfig(MINIMAL.replace('[pool.web]', '[pool.web]\ncritical = true'), 't.toml');
  assert.equal(c.pools[0]!.critical, true);
  assert.deepEqual(codesOf(MINIMAL.replace('[pool.web]', '[pool.web]\ncritical = "yes"')), [
    'pool.web.critical E_TYPE',
  ]);
});
