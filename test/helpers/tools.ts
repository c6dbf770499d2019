// Debian tools the tests run against (installed by tools/test-deps.sh): a test
// without its tool skips with a message naming the package, and `make test`
// fails on any skip, so a CI run always has them.
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

/** True when `cmd` is on PATH; otherwise skips `t` with the Debian package that brings it. */
export function hasTool(t: TestContext, cmd: string, pkg: string): boolean {
  if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0) return true;
  t.skip(`${cmd} is not installed (Debian package ${pkg}, installed by tools/test-deps.sh)`);
  return false;
}
