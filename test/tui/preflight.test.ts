import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { socketProblem } from '../../tui/preflight.js';

const NETMON = fileURLToPath(new URL('../../../bin/netmon', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'netmon-preflight-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a missing path and a path that is not a socket are explained', () => {
  assert.match(
    socketProblem(join(dir, 'none.sock')) ?? '',
    /no control socket at .*none\.sock: is the daemon running\?/,
  );
  const file = join(dir, 'plain');
  writeFileSync(file, 'x');
  assert.match(socketProblem(file) ?? '', /is not a socket/);
});

test('netmon top refuses to run when stdout is not a terminal, with a clear message', () => {
  const r = spawnSync(NETMON, ['top', '--socket', join(dir, 'none.sock')], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /netmon top: stdout is not a terminal/);
});
