// The files in conf/: the example config passes the loader and documents every
// key the loader knows; the dashboard and alert rules use only metrics a real
// daemon exports; promtool accepts the rules and their unit tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseConfig } from '../../daemon/config/load.js';
import { startTestDaemon, simpleConfig } from '../helpers/daemon.js';
import { startNamedEcho, freePort } from '../helpers/servers.js';
import { startMetricsServer } from '../../daemon/control/metrics/server.js';
import { exportedSeriesNames } from '../../daemon/control/metrics/registry.js';
import { parsePromText } from '../metrics/prom-text.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const read = (p: string): string => readFileSync(ROOT + p, 'utf8');
const run = promisify(execFile);

test('conf/netmon.toml passes the loader', () => {
  const c = parseConfig(read('conf/netmon.toml'), 'conf/netmon.toml');
  assert.equal(c.metrics.listen?.text, '127.0.0.1:9469');
  assert.deepEqual(
    c.listeners.map((l) => l.name),
    ['web', 'tls'],
  );
  assert.deepEqual(
    c.pools.map((p) => p.name),
    ['web', 'api'],
  );
  assert.equal(c.alerts.latencyP95, 200);
});

test('conf/netmon.toml documents every key the loader knows', () => {
  // the loader declares each section's keys in a `const ..._KEYS = [...]` list or
  // inline in `.section('name', [...])`
  const keys = new Set<string>();
  const dir = ROOT + 'daemon/config/';
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
    const src = readFileSync(dir + f, 'utf8');
    for (const m of src.matchAll(/(?:const \w*KEYS = |\.section\('[a-z_]+', )\[([^\]]*)\]/g)) {
      for (const k of m[1]!.matchAll(/'([a-z_0-9]+)'/g)) keys.add(k[1]!);
    }
  }
  assert.ok(keys.size > 50, `found ${keys.size} keys in the loader`);
  const text = read('conf/netmon.toml');
  const missing = [...keys].filter((k) => !new RegExp(`(^|[\\s{,.#\\[])${k}(\\s*=|\\]|\\.)`, 'm').test(text));
  assert.deepEqual(missing, [], 'keys the example does not show');
});

function dashboardExprs(): string[] {
  const dash = JSON.parse(read('conf/grafana-dashboard.json')) as { panels: { targets?: { expr: string }[] }[] };
  return dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
}

function metricNames(text: string): Set<string> {
  return new Set([...text.matchAll(/\bnetmon_[a-z0-9_]+/g)].map((m) => m[0]));
}

test('conf/grafana-dashboard.json has the four views, each panel with a query', () => {
  const dash = JSON.parse(read('conf/grafana-dashboard.json')) as {
    panels: { type: string; title: string; targets?: { expr: string }[] }[];
  };
  assert.deepEqual(
    dash.panels.filter((p) => p.type === 'row').map((p) => p.title),
    ['Network Overview', 'Server Performance', 'Load Balancer Analytics', 'Traffic Analysis'],
  );
  for (const p of dash.panels.filter((x) => x.type !== 'row')) assert.ok((p.targets ?? []).length > 0, p.title);
});

test('every metric the dashboard and the alert rules use is one a running daemon exports', async (t) => {
  const b1 = await startNamedEcho('b1');
  const port = await freePort();
  const d = await startTestDaemon(
    simpleConfig({
      listenPort: port,
      backends: [{ name: 'b1', port: b1.port }],
      health: '{ type = "tcp", interval = "200ms" }',
    }),
  );
  const metrics = await startMetricsServer(d.daemon, { host: '127.0.0.1', port: 0, text: '127.0.0.1:0' });
  t.after(async () => {
    await metrics.close();
    await d.stop();
    await b1.close();
  });
  const fams = parsePromText(await (await fetch(`http://127.0.0.1:${metrics.address!.port}/metrics`)).text());
  const exported = new Set<string>();
  for (const f of fams.values()) {
    if (f.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exported.add(f.name + s);
    else exported.add(f.name);
  }
  assert.deepEqual(
    [...exported].sort(),
    exportedSeriesNames().sort(),
    'the scrape holds every family the registry declares',
  );
  const used = new Set([...metricNames(dashboardExprs().join('\n')), ...metricNames(read('conf/alerts.rules.yml'))]);
  assert.ok(used.size >= 30, `${used.size} metrics used`);
  assert.deepEqual(
    [...used].filter((n) => !exported.has(n)),
    [],
    'metrics used but not exported',
  );
});

async function promtool(t: { skip(msg: string): void }): Promise<boolean> {
  try {
    await run('promtool', ['--version']);
    return true;
  } catch {
    t.skip('promtool is not installed (Debian: apt-get install prometheus)');
    return false;
  }
}

test('promtool accepts conf/alerts.rules.yml and conf/prometheus.yml, and the rules pass their unit tests', async (t) => {
  if (!(await promtool(t))) return;
  await run('promtool', ['check', 'rules', 'conf/alerts.rules.yml'], { cwd: ROOT });
  await run('promtool', ['check', 'config', 'conf/prometheus.yml'], { cwd: ROOT });
  const r = await run('promtool', ['test', 'rules', 'test/conf/alerts.rules.test.yml'], { cwd: ROOT }).catch(
    (err: { stdout?: string; stderr?: string }) =>
      assert.fail(`promtool test rules failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`),
  );
  assert.match(r.stdout + r.stderr, /SUCCESS/);
});

test('promtool parses every dashboard query (Grafana variables filled in)', async (t) => {
  if (!(await promtool(t))) return;
  const dir = mkdtempSync(`${tmpdir()}/netmon-dash-`);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const exprs = dashboardExprs().map((e) =>
    e
      .replaceAll('$__rate_interval', '1m')
      .replaceAll('$__range', '1h')
      .replaceAll('$instance', '.*')
      .replaceAll('$pool', '.*'),
  );
  // each query as a recording rule: `promtool check rules` parses it as PromQL
  const rules = exprs.map((e, i) => `      - record: dashboard:q${i}\n        expr: ${JSON.stringify(e)}`).join('\n');
  writeFileSync(`${dir}/dash.rules.yml`, `groups:\n  - name: dashboard\n    rules:\n${rules}\n`);
  const r = await run('promtool', ['check', 'rules', `${dir}/dash.rules.yml`]).catch(
    (err: { stdout?: string; stderr?: string }) =>
      assert.fail(`a dashboard query does not parse:\n${err.stdout ?? ''}${err.stderr ?? ''}`),
  );
  assert.match(r.stdout, new RegExp(`SUCCESS: ${exprs.length} rules found`));
});
