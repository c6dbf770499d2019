// The real `netmon daemon` process: its metrics port is started with the control
// socket, access = true writes one JSON line per connection on stdout, and a
// metrics address in use is refused at startup with a clear message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { startNamedEcho, freePort, whoAnswers, waitFor } from '../helpers/servers.js';
import { parsePromText, sampleValue } from './prom-text.js';

const MAIN = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

interface Proc {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  stderr: () => string;
  exited: Promise<number | null>;
}

function startDaemon(configPath: string): Proc {
  const child = spawn(process.execPath, [MAIN, 'daemon', '-c', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    let i;
    while ((i = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, i);
      out = out.slice(i + 1);
      lines.push(JSON.parse(line) as Record<string, unknown>); // every stdout line must be JSON
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, lines, stderr: () => err, exited };
}

function config(dir: string, listenPort: number, metricsPort: number, backendPort: number): string {
  const path = `${dir}/netmon.toml`;
  writeFileSync(
    path,
    [
      'workers = 2',
      'drain_timeout = "1s"',
      `[control]\nsocket = "${dir}/netmon.sock"`,
      `[metrics]\nlisten = "127.0.0.1:${metricsPort}"`,
      '[log]\nlevel = "info"\naccess = true',
      `[[listener]]\nname = "front"\nbind = "127.0.0.1:${listenPort}"\npool = "app"`,
      '[pool.app]\nhealth = { type = "none" }',
      `[[pool.app.backend]]\nname = "only"\naddress = "127.0.0.1:${backendPort}"`,
      '',
    ].join('\n'),
  );
  return path;
}

test('netmon daemon serves /metrics and writes one access line per connection', async (t) => {
  const dir = mkdtempSync(`${tmpdir()}/netmon-obs-`);
  const backend = await startNamedEcho('only');
  const [listenPort, metricsPort] = [await freePort(), await freePort()];
  const p = startDaemon(config(dir, listenPort, metricsPort, backend.port));
  t.after(async () => {
    if (p.child.exitCode === null) p.child.kill('SIGTERM');
    await p.exited;
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await waitFor(
    () => p.lines.some((l) => l['msg'] === 'netmon started'),
    10_000,
    `daemon start (stderr: ${p.stderr()})`,
  );
  assert.ok(p.lines.some((l) => l['msg'] === 'metrics port listening' && l['listen'] === `127.0.0.1:${metricsPort}`));

  const N = 12;
  for (let i = 0; i < N; i++) assert.equal(await whoAnswers(listenPort), 'only');
  const access = (): Record<string, unknown>[] => p.lines.filter((l) => l['msg'] === 'access');
  await waitFor(() => access().length >= N, 5000, `${N} access lines`);
  assert.equal(access().length, N, 'one line per connection');
  for (const l of access()) {
    assert.equal(l['level'], 'info');
    assert.equal(typeof l['time'], 'string');
    assert.equal(l['client'], '127.0.0.1');
    assert.equal(l['listener'], 'front');
    assert.equal(l['backend'], 'app/only');
    assert.equal(l['bytes_out'], 'only\n'.length);
    assert.equal(l['bytes_in'], 0);
    assert.equal(typeof l['connect_ms'], 'number');
    assert.equal(typeof l['duration_ms'], 'number');
    assert.equal(l['termination'], 'client_close');
  }

  const fams = parsePromText(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
  assert.equal(sampleValue(fams, 'netmon_backend_connections_total', { pool: 'app', backend: 'only' }), N);
  assert.equal(sampleValue(fams, 'netmon_listener_connections_total', { listener: 'front' }), N);
  assert.equal(sampleValue(fams, 'netmon_listener_bytes_out_total', { listener: 'front' }), N * 'only\n'.length);
  assert.equal(sampleValue(fams, 'netmon_alerts_firing', { alert: 'backend_down' }), 0);

  p.child.kill('SIGTERM');
  assert.equal(await p.exited, 0);
});

test('netmon daemon refuses to start when the metrics address is in use', async (t) => {
  const dir = mkdtempSync(`${tmpdir()}/netmon-obs-`);
  const holder = net.createServer();
  await new Promise<void>((r) => holder.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  const taken = (holder.address() as net.AddressInfo).port;
  const listenPort = await freePort();
  const p = startDaemon(config(dir, listenPort, taken, 9));
  t.after(async () => {
    if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await p.exited;
    holder.close();
    rmSync(dir, { recursive: true, force: true });
  });
  assert.equal(await p.exited, 1);
  assert.match(
    p.stderr(),
    new RegExp(`E_METRICS_LISTEN.*cannot listen on 127\\.0\\.0\\.1:${taken}: address already in use`),
  );
  assert.ok(!p.lines.some((l) => l['msg'] === 'netmon started'), 'no listener was opened');
});
