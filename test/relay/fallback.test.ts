// When the native relay cannot be had (not built: the file is missing; or a
// file that does not load), [data] relay = "auto" relays with Node sockets,
// says so in the log (each worker, with the reason) and shows it in
// netmon_worker_native_relay; "native" refuses to serve (E_PLAN) rather than
// fall back in silence. A real `netmon daemon` process: the workers write
// their own log lines to its stdout.
import { test } from 'node:test';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assert } from './harness.js';
import { freePort, startNamedEcho, waitFor, whoAnswers } from '../helpers/servers.js';

const MAIN = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'netmon-relay-fallback-'));
const broken = join(dir, 'broken.node');
writeFileSync(broken, 'not a shared object\n');

interface Run {
  lines: Record<string, unknown>[];
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** `netmon daemon` with [data] relay = `mode`, the addon looked for at `addon`. */
function daemon(mode: string, addon: string, port: number, metricsPort: number, backendPort: number): Run {
  const file = join(dir, `${mode}-${port}.toml`);
  writeFileSync(
    file,
    [
      'workers = 2',
      'drain_timeout = "1s"',
      `[data]\nrelay = "${mode}"`,
      `[control]\nsocket = "${dir}/${port}.sock"`,
      `[metrics]\nlisten = "127.0.0.1:${metricsPort}"`,
      '[log]\nlevel = "info"',
      `[[listener]]\nname = "front"\nbind = "127.0.0.1:${port}"\npool = "app"`,
      '[pool.app]\nhealth = { type = "none" }',
      `[[pool.app.backend]]\nname = "e"\naddress = "127.0.0.1:${backendPort}"`,
      '',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [MAIN, 'daemon', '-c', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NETMON_RELAY_ADDON: addon },
  });
  const lines: Record<string, unknown>[] = [];
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    let i;
    while ((i = out.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(out.slice(0, i)) as Record<string, unknown>);
      out = out.slice(i + 1);
    }
  });
  child.stderr.resume();
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    lines,
    exited,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function scrape(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

const CASES = [
  { what: 'not built (no file)', addon: join(dir, 'missing.node') },
  { what: 'not loadable (a broken file)', addon: broken },
];

for (const { what, addon } of CASES) {
  test(`auto, the native relay ${what}: Node sockets relay; the log and the metrics say so`, async () => {
    const echo = await startNamedEcho('e');
    const [port, metricsPort] = [await freePort(), await freePort()];
    const d = daemon('auto', addon, port, metricsPort, echo.port);
    try {
      await waitFor(() => d.lines.some((l) => l['msg'] === 'netmon started'), 10_000, 'the daemon to start');
      assert.equal(await whoAnswers(port), 'e');
      const said = (): Record<string, unknown>[] =>
        d.lines.filter((l) => l['msg'] === 'native relay unavailable: the JavaScript relay runs');
      await waitFor(() => said().length === 2, 5000, 'a warning from each worker');
      for (const l of said()) {
        assert.equal(l['level'], 'warn');
        assert.ok(String(l['err']).includes(`cannot load ${addon}`), String(l['err']));
      }
      const gauges = (await scrape(metricsPort)).split('\n').filter((l) => l.startsWith('netmon_worker_native_relay{'));
      assert.equal(gauges.length, 2);
      for (const g of gauges) assert.ok(g.endsWith(' 0'), g);
    } finally {
      await d.stop();
      await echo.close();
    }
  });
}

test('native, the native relay not loadable: netmon does not start (E_PLAN), no silent fallback', async () => {
  const echo = await startNamedEcho('e');
  const [port, metricsPort] = [await freePort(), await freePort()];
  const d = daemon('native', broken, port, metricsPort, echo.port);
  try {
    assert.notEqual(await d.exited, 0);
    const text = JSON.stringify(d.lines);
    assert.ok(text.includes('E_PLAN') && text.includes('relay = \\"native\\"'), text);
  } finally {
    await d.stop();
    await echo.close();
  }
});
