// The unit's LimitNOFILE= covers what the shipped example config may need
// (two descriptors per connection up to its max_connections, plus listeners,
// probes and the main thread): the start-up warning never fires on it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfigFile } from '../../daemon/config/load.js';
import { fdLimitWarning, fdsNeeded } from '../../daemon/control/fd-check.js';
import { ROOT } from './child-daemon.js';

test('netmon.service sets LimitNOFILE= above what conf/netmon.toml needs', () => {
  const unit = readFileSync(join(ROOT, 'systemd', 'netmon.service'), 'utf8');
  const m = /^LimitNOFILE=(\d+)$/m.exec(unit);
  assert.ok(m, 'LimitNOFILE= is set');
  const limit = Number(m[1]);
  const config = loadConfigFile(join(ROOT, 'conf', 'netmon.toml'));
  const need = fdsNeeded(config);
  assert.ok(need !== null && need > 20_000, `the example bounds its connections (needs ${need})`);
  assert.ok(need <= limit, `${need} needed, ${limit} allowed`);
  assert.equal(fdLimitWarning(config, limit), null);
});
