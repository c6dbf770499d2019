// `make install` is safe by default: into a DESTDIR, it writes a config that
// listens on loopback only and says where the commented example is (installed
// beside the docs), and a second install leaves an existing config untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ipaddr from 'ipaddr.js';
import { parseConfig } from '../../daemon/config/load.js';
import { ROOT } from './child-daemon.js';

function make(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  // -o build: install what is built; the test run compiled it already
  return spawnSync('make', ['-s', '-o', 'build', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
}

const loopback = (host: string): boolean => isIP(host) !== 0 && ipaddr.process(host).range() === 'loopback';

test('make install into a DESTDIR writes a loopback-only config naming the example, and keeps an existing one', () => {
  const dest = mkdtempSync(join(tmpdir(), 'netmon-destdir-'));
  try {
    const first = make('install', `DESTDIR=${dest}`);
    assert.equal(first.status, 0, first.stderr);
    const etc = join(dest, 'etc', 'netmon', 'netmon.toml');
    const text = readFileSync(etc, 'utf8');
    const config = parseConfig(text, etc);

    // nothing but loopback: every listener, the metrics port; the control socket under /run
    assert.ok(config.listeners.length > 0);
    for (const l of config.listeners) assert.ok(loopback(l.bind.host), `listener ${l.name} binds ${l.bind.text}`);
    assert.ok(config.metrics.listen === null || loopback(config.metrics.listen.host), 'metrics on loopback');
    assert.equal(config.control.socket, '/run/netmon/netmon.sock');
    for (const p of config.pools) for (const b of p.backends) assert.ok(loopback(b.address.host), b.address.text);

    // it says where the example is, and the example is there: the full commented config
    const example = '/usr/local/share/doc/netmon/netmon.example.toml';
    assert.match(text, new RegExp(`^#\\s+${example.replaceAll('.', '\\.')}$`, 'm'));
    assert.match(text, /^#\s+netmon check-config \/etc\/netmon\/netmon\.toml$/m);
    assert.equal(readFileSync(join(dest, example), 'utf8'), readFileSync(join(ROOT, 'conf', 'netmon.toml'), 'utf8'));
    assert.match(first.stdout, /installed .*netmon\.toml: loopback only/);

    // the installed netmon accepts it
    const check = spawnSync(join(dest, 'usr', 'local', 'bin', 'netmon'), ['check-config', etc], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(check.status, 0, check.stderr);

    // an existing config is never touched: content and modification time stay
    writeFileSync(etc, '# mine\nworkers = 1\n');
    const before = statSync(etc).mtimeMs;
    const second = make('install', `DESTDIR=${dest}`);
    assert.equal(second.status, 0, second.stderr);
    assert.equal(readFileSync(etc, 'utf8'), '# mine\nworkers = 1\n');
    assert.equal(statSync(etc).mtimeMs, before);
    assert.match(second.stdout, /kept the existing .*netmon\.toml/);
  } finally {
    rmSync(dest, { recursive: true, force: true });
  }
});
