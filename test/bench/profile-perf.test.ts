// The kernel's view of a proxy's CPU (bench/profile-perf.ts): perf's report and
// counts are read into shares per binary and system calls by name, and a real
// `perf` run on a process that opens and closes files counts those calls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  areaOfDso,
  perfProfile,
  perfUnavailable,
  sharesFromReport,
  syscallsFromStat,
} from '../../bench/profile-perf.js';

test("perf's report is read into shares per binary, netmon's and HAProxy's parts named", () => {
  const report = [
    '    82.18%  [kernel.kallsyms]',
    '     7.18%  node',
    '     4.69%  libc.so.6',
    '     3.18%  [JIT] tid 5123',
    '     2.07%  netmon-relay.node',
    '     0.64%  [vdso]',
    '     0.06%  libstdc++.so.6.0.30',
    '',
  ].join('\n');
  const s = sharesFromReport(report);
  assert.equal(s.kernel.toFixed(4), '0.8282');
  assert.equal(s.node.toFixed(4), '0.0724');
  assert.equal(s.libc.toFixed(4), '0.0469');
  assert.equal(s.javascript.toFixed(4), '0.0318');
  assert.equal(s.relay.toFixed(4), '0.0207');
  assert.equal(s.haproxy, 0);
  assert.equal(areaOfDso('haproxy'), 'haproxy');
  assert.equal(areaOfDso('libcrypto.so.3'), 'other');
});

test("perf stat's CSV is read into calls by name; other events and empty counts are left out", () => {
  const csv = [
    '# started on Mon Nov 30 16:00:00 2026',
    '',
    '158100,,syscalls:sys_enter_recvfrom,4000000000,100.00,,',
    '0,,syscalls:sys_enter_read,4000000000,100.00,,',
    '<not counted>,,syscalls:sys_enter_write,0,0.00,,',
    '1200,,task-clock,4000000000,100.00,,',
    '39531,,syscalls:sys_enter_connect,4000000000,100.00,,',
  ].join('\n');
  assert.deepEqual(
    [...syscallsFromStat(csv)],
    [
      ['recvfrom', 158100],
      ['connect', 39531],
    ],
  );
});

test('perf profiles a running process: the files it opens and closes are counted, its samples are mostly the kernel', async () => {
  assert.equal(await perfUnavailable(), undefined);
  const busy =
    "const fs = require('fs'); const end = Date.now() + 8000;" +
    "while (Date.now() < end) fs.closeSync(fs.openSync('/dev/null', 'r'));";
  const child = spawn(process.execPath, ['-e', busy], { stdio: 'ignore' });
  const dir = mkdtempSync(join(tmpdir(), 'netmon-perf-'));
  try {
    await new Promise((r) => setTimeout(r, 300));
    const p = await perfProfile(child.pid!, 1, dir);
    const opened = p.syscalls.get('openat') ?? 0;
    const closed = p.syscalls.get('close') ?? 0;
    assert.ok(opened > 1000, `openat ${opened}`);
    // counting starts and stops on each thread at its own moment: a few calls of the loop fall on one side
    assert.ok(Math.abs(opened - closed) <= Math.max(16, opened / 100), `openat ${opened}, close ${closed}`);
    const total = Object.values(p.shares).reduce((a, b) => a + b, 0);
    assert.ok(total > 0.98 && total < 1.02, `shares add up to ${total}`);
    assert.ok(p.shares.kernel > 0.3, `kernel ${p.shares.kernel}`);
    assert.equal(p.shares.haproxy, 0);
  } finally {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
