// The lint rule that keeps the two planes apart (eslint.config.js): code under
// daemon/data/ runs in worker threads and may not import the main thread's
// services or the config loader. Each case is linted as a file at that path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const eslint = new ESLint({ cwd: ROOT });

/** The no-restricted-imports messages for one source text linted as the file at `path`. */
async function restricted(path: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source + '\nexport const used = [x];\n', { filePath: join(ROOT, path) });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

test('daemon/data/ may not import the control plane, types included', async () => {
  for (const [path, spec] of [
    ['daemon/data/relay-probe.ts', '../control/daemon.js'],
    ['daemon/data/edge/probe.ts', '../../control/health/checker.js'],
    ['daemon/data/balance/probe.ts', '../../control/metrics/registry.js'],
    ['daemon/data/probe.ts', '../main.js'],
  ]) {
    assert.equal((await restricted(path!, `import { x } from '${spec}';`)).length, 1, `${path} importing ${spec}`);
    assert.equal((await restricted(path!, `import type { x } from '${spec}';`)).length, 1, `type-only ${spec}`);
  }
  assert.match((await restricted('daemon/data/probe.ts', "import x from 'prom-client';"))[0]!, /worker-thread code/);
});

test('daemon/data/ may not run config loading; it may name config types and use schema.ts', async () => {
  for (const spec of ['../../config/load.js', '../../config/reader.js', '../../config/default.js']) {
    const found = await restricted('daemon/data/edge/probe.ts', `import { x } from '${spec}';`);
    assert.equal(found.length, 1, spec);
    assert.match(found[0]!, /must not load or parse config/);
    assert.deepEqual(await restricted('daemon/data/edge/probe.ts', `import type { x } from '${spec}';`), []);
  }
  assert.deepEqual(await restricted('daemon/data/edge/probe.ts', "import { x } from '../../config/schema.js';"), []);
  assert.deepEqual(await restricted('daemon/data/edge/probe.ts', "import { x } from '../../state/table.js';"), []);
});

test('the control plane and the CLI may import anything', async () => {
  assert.deepEqual(await restricted('daemon/control/probe.ts', "import { x } from '../config/load.js';"), []);
  assert.deepEqual(await restricted('daemon/control/probe.ts', "import { x } from './health/checker.js';"), []);
  assert.deepEqual(await restricted('cli/probe.ts', "import { x } from '../daemon/control/daemon.js';"), []);
});
