import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseProcStat, parseRssBytes, processTree, treeCpuSeconds, treeRssBytes } from '../../bench/measure/proc.js';
import { formatSpread, jainFairness, median, spreadOf } from '../../bench/measure/stats.js';
import { markdownTable } from '../../bench/report/markdown.js';
import { renderSvg } from '../../bench/report/svg.js';
import { summarise, targets, workloadTables } from '../../bench/report/summary.js';
import { parseIperf3, parseWrk, which } from '../../bench/workloads/tools.js';
import { idleConnectionsFor } from '../../bench/workloads/idle.js';
import { summariseProfile } from '../../bench/profile.js';
import { netmonConfig } from '../../bench/proxies/netmon.js';
import { haproxyConfig } from '../../bench/proxies/haproxy.js';
import { nginxConfig } from '../../bench/proxies/nginx.js';
import { parseConfig } from '../../daemon/config/load.js';
import type { ProxyPlan } from '../../bench/proxies/types.js';
import type { Sample } from '../../bench/compare.js';
import { rawBulk } from '../../bench/workloads/bulk.js';
import { startBackend } from '../../backends/index.js';

test('a /proc/PID/stat line is read past a command name with spaces and parentheses', () => {
  const line = '4242 (we (i) rd) S 17 4242 4242 0 -1 4194304 100 0 0 0 250 75 0 0 20 0 3 0 12345 1000 100';
  assert.deepEqual(parseProcStat(line), { pid: 4242, ppid: 17, cpuSeconds: 3.25 });
  assert.throws(() => parseProcStat('garbage'));
});

test('CPU seconds of this process grow with busy work; RSS and the process tree are read', () => {
  const before = treeCpuSeconds(process.pid);
  // spin until this process has used 120 ms of CPU by its own count (a busy machine
  // stretches the wall time, not the CPU time); bounded at 10 s of wall time
  const cpuMs = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const target = cpuMs() + 120;
  const deadline = performance.now() + 10_000;
  let x = 0;
  while (cpuMs() < target && performance.now() < deadline) for (let i = 0; i < 10_000; i++) x += Math.sqrt(x + 1);
  assert.ok(x > 0);
  const used = treeCpuSeconds(process.pid) - before;
  // ticks are 10 ms: 120 ms of CPU shows as at least 0.05 s
  assert.ok(used >= 0.05 && used < 5, `used ${used}`);
  assert.ok(treeRssBytes(process.pid) > 10 * 1024 * 1024);
  assert.equal(parseRssBytes('Name:\tnode\nVmRSS:\t  2048 kB\n'), 2 * 1024 * 1024);
  assert.equal(processTree(process.pid)[0], process.pid);
});

test('a child process shows in its parent tree', () => {
  const r = spawnSync('sh', ['-c', 'sleep 0.3 & echo $$; wait'], { encoding: 'utf8', timeout: 5000 });
  assert.equal(r.status, 0);
  // the shell's pid is gone by now; the tree of a dead pid is just that pid
  assert.deepEqual(processTree(Number(r.stdout.trim())), [Number(r.stdout.trim())]);
});

test('medians, spread and fairness on tiny inputs', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.ok(Number.isNaN(median([])));
  const s = spreadOf([90, 100, 110, NaN]);
  assert.deepEqual(s, { median: 100, min: 90, max: 110, spread: 0.2, runs: 3 });
  assert.equal(formatSpread(s), '100 ±10%');
  assert.equal(jainFairness([10, 10, 10]), 1);
  assert.ok(Math.abs(jainFairness([30, 0, 0]) - 1 / 3) < 1e-9);
  assert.equal(jainFairness([20, 10], [2, 1]), 1);
});

test('the markdown table pads columns and escapes pipes', () => {
  const t = markdownTable(
    ['proxy', 'rps'],
    [
      ['netmon', '1|2'],
      ['haproxy', '3'],
    ],
  );
  const lines = t.split('\n');
  assert.equal(lines.length, 4);
  assert.match(lines[1]!, /^\|-+\|-+\|$/);
  assert.match(lines[2]!, /netmon +\| 1\\\|2/);
  assert.equal(new Set(lines.map((l) => l.length)).size, 1, 'every line the same width');
});

test('the SVG chart has a bar per finite value, error bars, and escapes labels', () => {
  const svg = renderSvg({
    title: 'a <b> & c',
    series: ['netmon', 'haproxy'],
    groups: [
      { label: 'rps', values: { netmon: 100, haproxy: 50 }, range: { netmon: [90, 110] } },
      { label: 'rss', values: { netmon: NaN, haproxy: 5 } },
    ],
  });
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\n$/);
  assert.match(svg, /a &lt;b&gt; &amp; c/);
  // 2 legend swatches + 3 bars (one value is NaN) + the background
  assert.equal((svg.match(/<rect /g) ?? []).length, 6);
  assert.equal((svg.match(/<path /g) ?? []).length, 1);
  assert.match(svg, />n\/a</);
});

test('wrk and iperf3 outputs are read', () => {
  const wrk = `Running 2s test @ http://127.0.0.1:1/
  1 threads and 50 connections
  Latency Distribution
     50%  520.00us
     75%    1.10ms
     90%    2.00ms
     99%    1.50s
  20000 requests in 2.00s, 2.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  10000.00
Transfer/sec:      1.00MB
`;
  assert.deepEqual(parseWrk(wrk), { requests: 20000, durationS: 2, rps: 10000, p50Ms: 0.52, p99Ms: 1500, errors: 7 });
  assert.throws(() => parseWrk('nothing'));
  assert.deepEqual(parseIperf3(JSON.stringify({ end: { sum_received: { bits_per_second: 8e9, bytes: 2e9 } } })), {
    bitsPerSecond: 8e9,
    bytes: 2e9,
  });
  assert.throws(() => parseIperf3(JSON.stringify({ error: 'unable to connect' })), /unable to connect/);
});

test('summary, ratios and targets from a few samples', () => {
  const samples: Sample[] = [
    { workload: 'keepalive-wrk', proxy: 'netmon', run: 1, values: { rps: 900, cpu_s_per_10k: 0.2 } },
    { workload: 'keepalive-wrk', proxy: 'netmon', run: 2, values: { rps: 1100, cpu_s_per_10k: 0.2 } },
    { workload: 'keepalive-wrk', proxy: 'haproxy', run: 1, values: { rps: 1000, cpu_s_per_10k: 0.1 } },
    { workload: 'keepalive-wrk', proxy: 'node-pipe', run: 1, values: { rps: 500, cpu_s_per_10k: 0.4 } },
    { workload: 'idle', proxy: 'netmon', run: 1, values: { rss_mb: 150, connections: 10000 } },
  ];
  const summary = summarise(samples);
  assert.equal(summary['keepalive-wrk']!.netmon!.rps!.median, 1000);
  const list = targets(summary, 'keepalive-wrk');
  const ka = list.find((t) => t.what.startsWith('keep-alive'))!;
  assert.equal(ka.value, 1);
  assert.equal(ka.met, true);
  assert.equal(ka.cpuRatio, 0.5);
  assert.equal(list.find((t) => t.what.startsWith('connections/s'))!.met, undefined, 'not measured');
  const pipe = list.find((t) => t.what.includes('keepalive-wrk') && t.what.includes('pipe'))!;
  assert.equal(pipe.value, 2);
  assert.equal(list.find((t) => t.what.startsWith('RSS'))!.met, true);
  const md = workloadTables(
    {
      samples,
      proxies: ['netmon', 'haproxy', 'node-pipe'],
      workloads: [{ name: 'keepalive-wrk', title: 'ka' }],
      skipped: [],
    },
    summary,
  );
  assert.match(md, /\| netmon +\| 1000 ±10% +\| 0.2 ±0% +\| 1.00x +\| 2.00x +\|/);
});

test('a CPU profile is reduced to self time per function, heaviest first', () => {
  const entries = summariseProfile({
    startTime: 0,
    endTime: 100_000,
    nodes: [
      { id: 1, hitCount: 0, callFrame: { functionName: '(root)', url: '', lineNumber: -1 } },
      {
        id: 2,
        hitCount: 30,
        callFrame: { functionName: 'relay', url: 'file:///x/dist/daemon/data/relay-pump.js', lineNumber: 9 },
      },
      { id: 3, hitCount: 70, callFrame: { functionName: 'writeBuffer', url: '', lineNumber: -1 } },
    ],
  });
  assert.deepEqual(
    entries.map((e) => [e.name, e.area, Math.round(e.selfMs)]),
    [
      ['writeBuffer', 'native / V8', 70],
      ['relay', 'netmon relay', 30],
    ],
  );
  assert.equal(entries[1]!.where, 'dist/daemon/data/relay-pump.js:10');
});

test('idle connections fit under the open-file limit', () => {
  assert.equal(idleConnectionsFor(65536, 10_000), 10_000);
  assert.equal(idleConnectionsFor(20_000, 10_000), 9500);
  assert.equal(idleConnectionsFor(512, 10_000), 0);
});

const plan: ProxyPlan = {
  httpPort: 18080,
  httpBackends: [15001, 15002, 15003],
  bulkPort: 18081,
  bulkBackend: 15201,
  maxConnections: 100,
  dir: '/tmp',
};

test('the bench netmon config is valid for the daemon loader', () => {
  const config = parseConfig(netmonConfig(plan, { algorithm: 'least_connections' }), 'bench.toml');
  assert.equal(config.workers, 1);
  assert.equal(config.log.access, false);
  assert.equal(config.listeners.length, 2);
  assert.equal(config.pools.find((p) => p.name === 'web')!.backends.length, 3);
});

test('the HAProxy and nginx configs pass their own checkers (when installed)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'netmon-bench-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const p = { ...plan, dir };
  const haproxy = await which('haproxy');
  if (haproxy) {
    writeFileSync(join(dir, 'h.cfg'), haproxyConfig(p));
    const r = spawnSync(haproxy, ['-c', '-f', join(dir, 'h.cfg')], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 0, r.stderr + r.stdout);
  } else t.diagnostic('haproxy not installed: its config check skipped');
  const nginx = await which('nginx');
  if (nginx) {
    writeFileSync(join(dir, 'n.conf'), nginxConfig(p, true));
    const r = spawnSync(nginx, ['-t', '-p', dir, '-c', join(dir, 'n.conf')], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 0, r.stderr);
  } else t.diagnostic('nginx not installed: its config check skipped');
});

test('raw bulk mode: what the writer counts is what the sink received', async () => {
  const sink = await startBackend({ name: 'sink', mode: 'sink' });
  try {
    const r = await rawBulk(sink.port, 2, 0.3);
    assert.ok(r.bytes > 1_000_000, `only ${r.bytes} bytes`);
    assert.equal(sink.stats().bytesIn, r.bytes);
    assert.ok(r.bitsPerSecond > 0);
  } finally {
    await sink.stop();
  }
});
