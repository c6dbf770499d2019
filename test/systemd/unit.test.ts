// The systemd units as installed by `make install`: `systemd-analyze verify`
// accepts them, their commands point at the installed netmon, and that netmon
// runs (check-config on the installed config, ctl lists its commands).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './child-daemon.js';

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** systemd-analyze, installing the systemd package when we may (root with apt-get). */
function systemdAnalyze(): string | null {
  if (have('systemd-analyze')) return 'systemd-analyze';
  if (process.getuid?.() === 0 && have('apt-get')) {
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'systemd'], {
      timeout: 180_000,
      stdio: 'ignore',
    });
    if (have('systemd-analyze')) return 'systemd-analyze';
  }
  return null;
}

test('make install lays out a working netmon and units that systemd-analyze verify accepts', async (t) => {
  const analyze = systemdAnalyze();
  if (!analyze) {
    t.skip('systemd-analyze is not available and the systemd package cannot be installed here');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'netmon-install-'));
  const prefix = join(dir, 'usr');
  const etc = join(dir, 'etc');
  try {
    // -o build: install what is built; the test run compiled it already
    const install = spawnSync('make', ['-s', '-o', 'build', 'install', `PREFIX=${prefix}`, `SYSCONFDIR=${etc}`], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(install.status, 0, `make install failed: ${install.stderr}`);
    const units = join(prefix, 'lib', 'systemd', 'system');
    const verify = spawnSync(analyze, ['verify', join(units, 'netmon.service'), join(units, 'netmon.socket')], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (verify.error || /Failed to (connect|initialize)|System has not been booted/i.test(verify.stderr)) {
      t.skip(`systemd-analyze cannot run here: ${verify.error?.message ?? verify.stderr.trim()}`);
      return;
    }
    assert.equal(verify.status, 0, verify.stderr);
    assert.equal(verify.stderr.trim(), '', 'no warnings about the units');

    const service = readFileSync(join(units, 'netmon.service'), 'utf8');
    assert.match(service, /^Type=notify$/m);
    assert.match(service, new RegExp(`^ExecStart=${prefix}/bin/netmon daemon -c ${etc}/netmon/netmon.toml$`, 'm'));
    assert.match(service, new RegExp(`^ExecReload=${prefix}/bin/netmon ctl .*reload$`, 'm'));
    for (const line of [
      'Restart=on-failure',
      'RuntimeDirectory=netmon',
      'AmbientCapabilities=CAP_NET_BIND_SERVICE',
      'CapabilityBoundingSet=CAP_NET_BIND_SERVICE',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'PrivateTmp=yes',
      'SystemCallFilter=@system-service',
    ]) {
      assert.match(service, new RegExp(`^${line}$`, 'm'), line);
    }
    assert.match(service, /^RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6$/m);
    assert.doesNotMatch(service, /^MemoryDenyWriteExecute=yes/m, 'V8 cannot run under MemoryDenyWriteExecute');
    assert.doesNotMatch(service, /^Type=notify-reload/m, 'systemd 252 (Debian 12) has no notify-reload');

    const netmon = join(prefix, 'bin', 'netmon');
    const check = spawnSync(netmon, ['check-config', join(etc, 'netmon', 'netmon.toml')], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(check.status, 0, check.stderr);
    assert.match(readFileSync(join(etc, 'netmon', 'netmon.toml'), 'utf8'), /socket = "\/run\/netmon\/netmon\.sock"/);
    const ctl = spawnSync(netmon, ['ctl'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(ctl.status, 0);
    assert.match(ctl.stdout, /set state POOL\/BACKEND/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
