// conf/keepalived.conf, conf/bird.conf and conf/router-flow-pinning.nft as
// shipped (before an operator sets the site values): keepalived's, BIRD's and
// nft's own config checks accept them, silently. test/fleet/ runs them, site
// values replaced, in network namespaces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../systemd/child-daemon.js';

function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out: stdout + stderr }),
    );
  });
}

test('conf/keepalived.conf passes keepalived --config-test on both machines of the pair', async () => {
  for (const id of ['lb1', 'lb2']) {
    const r = await run('keepalived', [
      '--config-test',
      '--use-file',
      join(ROOT, 'conf', 'keepalived.conf'),
      '--config-id',
      id,
    ]);
    assert.deepEqual(r, { code: 0, out: '' }, `-i ${id}`);
  }
});

test('conf/bird.conf passes bird -p', async () => {
  const r = await run('bird', ['-p', '-c', join(ROOT, 'conf', 'bird.conf')]);
  assert.deepEqual(r, { code: 0, out: '' });
});

test('conf/router-flow-pinning.nft passes nft --check', async () => {
  // a dry run: the kernel checks the ruleset and nothing is committed
  const r = await run('nft', ['--check', '-f', join(ROOT, 'conf', 'router-flow-pinning.nft')]);
  assert.deepEqual(r, { code: 0, out: '' });
});
