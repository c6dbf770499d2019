import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startBackends } from '../../backends/index.js';
import { startControlServer } from '../../backends/control-server.js';
import { httpRequest, postSim, tryConnect } from './helpers.js';

const MAIN = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

test('the control endpoint tunes TCP-mode backends by name', async () => {
  const bs = await startBackends(2, { mode: 'echo', prefix: 'e' });
  const control = await startControlServer(bs, '127.0.0.1', 0);
  const port = (control.address() as AddressInfo).port;
  try {
    const all = JSON.parse((await httpRequest(port, '/_sim')).body) as { name: string }[];
    assert.deepEqual(
      all.map((b) => b.name),
      ['e1', 'e2'],
    );
    const r = await httpRequest(port, '/e2/_sim', { method: 'POST', body: '{"fault":"refuse"}' });
    assert.equal(r.status, 200);
    assert.equal(await tryConnect(bs[1]!.port), 'ECONNREFUSED');
    assert.equal(await tryConnect(bs[0]!.port), 'connected');
    const bad = await httpRequest(port, '/e1/_sim', { method: 'POST', body: '{"errorRate":7}' });
    assert.equal(bad.status, 400);
    assert.equal((JSON.parse(bad.body) as { error: { code: string } }).error.code, 'E_RANGE');
    assert.equal((await httpRequest(port, '/nope/_sim')).status, 404);
    assert.equal((await httpRequest(port, '/e2/_sim/reset', { method: 'POST' })).status, 200);
    assert.equal(await tryConnect(bs[1]!.port), 'connected');
  } finally {
    control.close();
    await Promise.all(bs.map((b) => b.stop()));
  }
});

/** starts `netmon backends` and resolves with the ports it printed */
async function startCli(args: string[]): Promise<{ child: ChildProcess; ports: number[]; output: () => string }> {
  const child = spawn(process.execPath, [MAIN, 'backends', '--base-port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => (out += c));
  const ports = await new Promise<number[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start line: ${out}`)), 10_000);
    child.stdout!.on('data', (c: string) => {
      out += c;
      if (out.includes('SIGUSR1')) {
        clearTimeout(timer);
        resolve([...out.matchAll(/listening on 127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1])));
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
  return { child, ports, output: () => out };
}

test('netmon backends: per-backend flags, SIGUSR2 resets run-time changes, SIGTERM stops', async () => {
  const { child, ports, output } = await startCli(['--count', '2', '--error-rate', '1,0']);
  try {
    assert.equal(ports.length, 2);
    assert.equal((await httpRequest(ports[0]!, '/')).status, 500, 'b1 fails everything');
    assert.equal((await httpRequest(ports[1]!, '/')).body, 'hello from b2\n');
    await postSim(ports[1]!, { fault: 'unhealthy' });
    assert.equal((await httpRequest(ports[1]!, '/health')).status, 503);
    child.kill('SIGUSR2');
    const end = Date.now() + 5000;
    while (Date.now() < end && !output().includes('b2 reset')) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await httpRequest(ports[1]!, '/health')).status, 200);
    assert.equal((await httpRequest(ports[0]!, '/')).status, 500, 'reset goes back to the start flags');
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
});

test('netmon backends --crash-exits: fault crash ends the process with code 70', async () => {
  const { child, ports } = await startCli(['--count', '1', '--crash-exits']);
  const exited = once(child, 'exit');
  await postSim(ports[0]!, { fault: 'crash' });
  const [code] = (await exited) as [number];
  assert.equal(code, 70);
});
