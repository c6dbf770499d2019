// Every key conf/netmon.toml shows does something. The file is parsed and each
// key path (listeners and backends as `[]`, pools as `*`) must have an entry in
// EFFECTS naming the test that proves its effect; that test must exist and its
// body must spell the key (or the name the code gives it). A key added to the
// example without such a test fails here. Keys whose effect no other test shows
// get their own test at the end of this file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import toml from 'toml';
import { parseConfig } from '../../daemon/config/load.js';
import type { AlertsConfig } from '../../daemon/config/schema.js';
import { RuleSet } from '../../daemon/control/alerts/rules.js';
import type { AlertInputs, BackendInput } from '../../daemon/control/alerts/inputs.js';
import { startAlerts, type AlertHost } from '../../daemon/control/alerts/service.js';
import type { Snapshot } from '../../daemon/control/snapshot/snapshot.js';
import { Daemon } from '../../daemon/control/daemon.js';
import type { ConfigErrors } from '../../daemon/errors.js';
import { startTestDaemon, simpleConfig } from '../helpers/daemon.js';
import { freePort, startNamedEcho, whoAnswers } from '../helpers/servers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const THIS = 'test/conf/key-effects.test.ts';
const run = promisify(execFile);

/** Where a key's effect is proven: a test (by file and exact title) whose body spells `mentions` (default: the key). */
interface Effect {
  file: string;
  title: string;
  /** what the test's body must contain: the TOML key, or the name the code gives the value */
  mentions?: string;
}

const e = (file: string, title: string, mentions?: string): Effect => ({
  file: `test/${file}`,
  title,
  ...(mentions ? { mentions } : {}),
});
const here = (title: string, mentions?: string): Effect => ({ file: THIS, title, ...(mentions ? { mentions } : {}) });

const ADMISSION = 'edge/admission.test.ts';
const ROUTING = 'edge/routing.test.ts';
const PROXY = 'edge/proxy-protocol.test.ts';
const RULES = 'alerts/rules.test.ts';
const HTTP_PROBE = 'health/probe-http.test.ts';
const SEND_EXPECT = 'health/probe-send-expect.test.ts';
const CHECKER = 'health/checker.test.ts';

const NAMESERVERS =
  'nameservers and family: names are asked of the servers listed, with their TTLs; family picks A, AAAA or both';
const RETRIES =
  'timeout.retry and resolve_retries: a query unanswered within retry is sent again, up to resolve_retries times';
const NEXT_QUESTION = "the next question comes at the answer's TTL, raised to timeout.resolve and cut to hold.valid";
const ETCD_LOST =
  'killing etcd keeps traffic on the last good set (an alert); a restarted etcd resumes the watch without a reload';
const ETCD_AUTH = 'username and password: an etcd with authentication serves the daemon that has them, not one without';

const EFFECTS: Record<string, Effect> = {
  workers: e(
    'integration/distribution.test.ts',
    'round_robin: 3000 sequential connections over 3 backends give each 1000 (+-1), totals exact, both workers accept',
  ),
  drain_timeout: e(
    'integration/stop.test.ts',
    'drain_timeout bounds the wait: a connection that stays open is closed, exit 0',
  ),
  announce_drain: e(
    'integration/lame-duck.test.ts',
    'SIGTERM with announce_drain: unhealthy at once while still accepting, listeners close only after it, then the drain',
  ),
  max_connections: e(
    ADMISSION,
    'global max_connections: a full daemon accepts and closes at once, counted, without touching a backend',
  ),
  'control.socket': e(
    'control/socket-file.test.ts',
    'a second daemon on the same control socket exits 1 with E_SOCKET_IN_USE before binding its listener',
  ),
  'metrics.listen': e(
    'metrics/side-port.test.ts',
    'a metrics port that cannot bind is a clear startup error; "off" starts nothing',
    'listen',
  ),
  'log.level': here('log.level drops the lines below it'),
  'log.access': e(
    'metrics/daemon-process.test.ts',
    'netmon daemon serves /metrics and writes one access line per connection',
  ),
  'limits.max_listeners': here('limits size the state table and refuse a config beyond them'),
  'limits.max_pools': here('limits size the state table and refuse a config beyond them'),
  'limits.max_backends': here('limits size the state table and refuse a config beyond them'),
  'alerts.interval': here('alerts.interval is how often the rules run'),
  'alerts.for': e(
    'alerts/engine.test.ts',
    'a condition is pending, fires once it has held for alerts.for, and resolves when it clears',
  ),
  'alerts.keep_firing_for': e(
    'alerts/engine.test.ts',
    'keep_firing_for: a flickering condition fires once and resolves once, after it has been gone for the hold',
    'keepFiringFor',
  ),
  'alerts.latency_p95': e(RULES, 'high_latency: p95 of connect + first byte over latency_p95, with enough samples'),
  'alerts.cpu_percent': here('the [alerts] thresholds decide what fires'),
  'alerts.memory_bytes': here('the [alerts] thresholds decide what fires'),
  'alerts.agent_cpu_percent': here('the [alerts] thresholds decide what fires'),
  'alerts.agent_memory_percent': here('the [alerts] thresholds decide what fires'),
  'alerts.spike_factor': e(
    RULES,
    'traffic_spike: a 5x burst over a steady baseline fires, and the baseline does not swallow it',
    'spikeFactor',
  ),
  'alerts.spike_min_rate': e(
    RULES,
    'traffic_spike: a 5x burst over a steady baseline fires, and the baseline does not swallow it',
    'spikeMinRate',
  ),
  'alerts.baseline_window': e(RULES, 'traffic_spike waits for a warm baseline', 'baselineWindow'),
  'alerts.imbalance_cv': e(
    RULES,
    'poor_distribution: weights 1:1:1 with one backend hogging long connections',
    'imbalanceCv',
  ),
  'alerts.imbalance_min_connections': here('the [alerts] thresholds decide what fires'),
  'resolvers.nameservers': e('discovery/dns-client.test.ts', NAMESERVERS),
  'resolvers.family': e('discovery/dns-client.test.ts', NAMESERVERS),
  'resolvers.resolve_retries': e('discovery/dns-client.test.ts', RETRIES),
  'resolvers.timeout.resolve': e('discovery/dns-source.test.ts', NEXT_QUESTION),
  'resolvers.timeout.retry': e('discovery/dns-client.test.ts', RETRIES),
  'resolvers.hold.valid': e('discovery/dns-source.test.ts', NEXT_QUESTION),
  'resolvers.hold.nx': e(
    'discovery/dns-source.test.ts',
    'hold nx = 0: a name that stops existing drops its backends at once; a source never answered has nothing to drop',
  ),
  'resolvers.hold.timeout': e(
    'discovery/dns-source.test.ts',
    'a failure keeps the last good set for the hold time of its kind, from the last good answer, then drops it',
  ),
  'resolvers.hold.refused': e(
    'integration/discovery-dns.test.ts',
    'a stopped name server: the last good set is kept for the hold time (event, metric, alert), then removed; back when it answers',
  ),
  'etcd.endpoints': e(
    'integration/discovery-etcd.test.ts',
    'two daemons watching one prefix both apply a --fleet drain within 1 s',
  ),
  'etcd.timeout': e('integration/discovery-etcd.test.ts', ETCD_LOST),
  'etcd.retry_max': e('integration/discovery-etcd.test.ts', ETCD_LOST),
  'etcd.username': e('integration/discovery-etcd.test.ts', ETCD_AUTH),
  'etcd.password': e('integration/discovery-etcd.test.ts', ETCD_AUTH),
  'listener[].name': e(
    'integration/access-log-errors.test.ts',
    'access lines carry the error code of why no backend served the connection',
    'name = ',
  ),
  'listener[].bind': e(
    'integration/reload.test.ts',
    'listeners: added ones open, a moved bind moves, removed ones stop accepting; open connections finish',
  ),
  'listener[].pool': e(
    ROUTING,
    'TLS ClientHello SNI routes exact and wildcard names to their TLS backends; others go to the listener pool',
    'pool',
  ),
  'listener[].max_connections': e(
    'integration/terminations.test.ts',
    'every termination gives back every reservation: the active counts return to zero',
  ),
  'listener[].backlog': here('backlog is the listening socket’s accept queue'),
  'listener[].timeouts.client_idle': e(
    'integration/client-idle.test.ts',
    'timeouts.client_idle closes a silent client; the pool’s idle still applies when shorter',
  ),
  'listener[].allow': e(
    ADMISSION,
    'deny and allow lists refuse clients before any backend is contacted; reload changes them',
  ),
  'listener[].deny': e(
    ADMISSION,
    'deny and allow lists refuse clients before any backend is contacted; reload changes them',
  ),
  'listener[].proxy_protocol': e(
    PROXY,
    'PROXY in: the header names the client for send_proxy, ACLs and show clients; bad headers are refused',
  ),
  'listener[].trusted_proxies': e(
    PROXY,
    'PROXY in: the header names the client for send_proxy, ACLs and show clients; bad headers are refused',
  ),
  'listener[].inspect_delay': e(
    ROUTING,
    'protocol sniffing routes ssh and http1 and counts every protocol; silence falls back after the inspect delay',
  ),
  'listener[].inspect_bytes': e(
    'edge/large-hello.test.ts',
    '5, 9 and 15 KB ClientHellos in 1448-byte segments route by server name; a miss is counted and logged',
  ),
  'listener[].source_limits.max_connections': e(
    ADMISSION,
    'per-source max_connections: the third concurrent connection is refused until one closes',
  ),
  'listener[].source_limits.rate': e(
    ADMISSION,
    'per-source rate limit: a burst is served, the rest refused as rate_limit and shown in show clients',
  ),
  'listener[].source_limits.burst': e(
    ADMISSION,
    'per-source rate limit: a burst is served, the rest refused as rate_limit and shown in show clients',
  ),
  'listener[].source_limits.prefix_v4': e(
    'edge/source-limits.test.ts',
    'sources group by prefix; IPv4-mapped IPv6 is the IPv4 client',
    'prefixV4',
  ),
  'listener[].source_limits.prefix_v6': e(
    'edge/source-limits.test.ts',
    'sources group by prefix; IPv4-mapped IPv6 is the IPv4 client',
    'prefixV6',
  ),
  'listener[].source_limits.table_size': e(
    PROXY,
    'a flood of distinct sources keeps the per-source table at table_size; limits still hold',
  ),
  'listener[].route[].sni': e(
    ROUTING,
    'TLS ClientHello SNI routes exact and wildcard names to their TLS backends; others go to the listener pool',
  ),
  'listener[].route[].pool': e(
    ROUTING,
    'TLS ClientHello SNI routes exact and wildcard names to their TLS backends; others go to the listener pool',
    'pool',
  ),
  'listener[].route[].protocol': e(
    ROUTING,
    'protocol sniffing routes ssh and http1 and counts every protocol; silence falls back after the inspect delay',
  ),
  'pool.*.algorithm': e(
    'integration/distribution.test.ts',
    'weighted_round_robin 3:2:1 over 6000 connections: each share within 2% of its weight',
  ),
  'pool.*.critical': e(
    'control/health.test.ts',
    'a live daemon: /healthz, netmon_healthy and `ctl show health` follow the listeners and the critical pool',
  ),
  'pool.*.retries': e(
    'integration/relay.test.ts',
    'a refused connect is retried on another backend; errors and retries are counted',
  ),
  'pool.*.retry_on': e(
    'integration/empty-response.test.ts',
    'retry_on empty_response replays the client bytes elsewhere, within retry_buffer',
  ),
  'pool.*.retry_buffer': e(
    'integration/empty-response.test.ts',
    'retry_on empty_response replays the client bytes elsewhere, within retry_buffer',
  ),
  'pool.*.slow_start': e(
    'integration/failover.test.ts',
    'killed backend: no client fails, marked down after fall, back after rise with slow start',
  ),
  'pool.*.queue_size': e(
    'integration/pool-queue.test.ts',
    'queue_size = 3 lets 3 connections wait in the pool, over both workers',
  ),
  'pool.*.send_proxy': e(PROXY, 'send_proxy v1 and v2: the backend learns the real client address and port'),
  'pool.*.timeouts.connect': e(
    'integration/relay.test.ts',
    'connect timeout: a backend that never completes the handshake is given up on and retried elsewhere',
  ),
  'pool.*.timeouts.idle': e('integration/relay.test.ts', 'idle timeout closes a connection with no traffic either way'),
  'pool.*.timeouts.first_byte': e(
    'integration/first-byte.test.ts',
    'a black-holed backend: timeouts.first_byte counts it failed and replays elsewhere, or resets',
  ),
  'pool.*.timeouts.queue': e(
    'integration/capacity.test.ts',
    'queue: with every backend full, a connection waits for a slot; past timeouts.queue it is refused',
  ),
  'pool.*.health.type': e(CHECKER, 'type none: never probed, a down backend is brought up'),
  'pool.*.health.path': e(
    HTTP_PROBE,
    'http probe sends GET path with Host and Connection: close, succeeds on the expected status',
    'path',
  ),
  'pool.*.health.host': e(
    HTTP_PROBE,
    'http probe sends GET path with Host and Connection: close, succeeds on the expected status',
    'host',
  ),
  'pool.*.health.expect_status': e(HTTP_PROBE, 'http probe fails on a status other than expect_status', 'expectStatus'),
  'pool.*.health.interval': e(CHECKER, 'first probe falls within the first interval, later ones interval ± 10%'),
  'pool.*.health.timeout': e(
    'health/probe-tcp.test.ts',
    'tcp probe times out on a connect that hangs, and leaves nothing behind',
  ),
  'pool.*.health.rise': e(
    CHECKER,
    'an up backend goes down after exactly `fall` consecutive failures, and up after `rise` successes',
  ),
  'pool.*.health.fall': e(
    CHECKER,
    'an up backend goes down after exactly `fall` consecutive failures, and up after `rise` successes',
  ),
  'pool.*.health.send': e(SEND_EXPECT, 'send_expect writes the send bytes and succeeds on the expected reply'),
  'pool.*.health.expect': e(SEND_EXPECT, 'send_expect writes the send bytes and succeeds on the expected reply'),
  'pool.*.adaptive.window': e(
    'integration/adaptive.test.ts',
    'adaptive switches a pool with a slow backend to least_response_time, with its reason',
  ),
  'pool.*.adaptive.confirm': e(
    'balance/adaptive.test.ts',
    'controller: switches only after `confirm` agreeing windows and `minDwell`, and keeps the reason',
  ),
  'pool.*.adaptive.min_dwell': e(
    'balance/adaptive.test.ts',
    'controller: switches only after `confirm` agreeing windows and `minDwell`, and keeps the reason',
    'minDwell',
  ),
  'pool.*.passive.consecutive_failures': e(
    'metrics/passive-refused.test.ts',
    'a passive ejection refused by max_ejected_share reaches netmon_backend_passive_ejections_refused_total',
  ),
  'pool.*.passive.max_ejected_share': e(
    'metrics/passive-refused.test.ts',
    'a passive ejection refused by max_ejected_share reaches netmon_backend_passive_ejections_refused_total',
  ),
  'pool.*.backend[].name': e(
    'integration/failover.test.ts',
    'drained backend keeps its connections but gets no new ones; ready brings it back',
    'name',
  ),
  'pool.*.backend[].address': e(
    'integration/access-log-errors.test.ts',
    'access lines carry the error code of why no backend served the connection',
  ),
  'pool.*.backend[].weight': e(
    'integration/distribution.test.ts',
    'weighted_round_robin 3:2:1 over 6000 connections: each share within 2% of its weight',
  ),
  'pool.*.backend[].max_connections': e(
    'integration/capacity.test.ts',
    'max_connections: a full backend is skipped; with every backend full the client is refused and counted',
    'maxConnections',
  ),
  'pool.*.backend[].backup': e(
    'integration/capacity.test.ts',
    'a backup serves only when no primary is eligible, and hands back when one returns',
  ),
};

/** Every leaf key path of a parsed TOML document: arrays of tables as `[]`, pool names as `*`. */
function keyPaths(doc: Record<string, unknown>): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown, path: string): void => {
    if (Array.isArray(v) && v.length > 0 && v.every((x) => isTable(x))) {
      for (const x of v) walk(x, `${path}[]`);
      return;
    }
    if (isTable(v)) {
      for (const [k, x] of Object.entries(v)) walk(x, path === '' ? k : `${path}.${k}`);
      return;
    }
    out.add(path);
  };
  for (const [k, v] of Object.entries(doc)) {
    if (k === 'pool' && isTable(v)) for (const p of Object.values(v)) walk(p, 'pool.*');
    else walk(v, k);
  }
  return out;
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The source of the top-level test titled `title` in `file`, up to the next top-level test; null when none. */
function testBody(file: string, title: string): string | null {
  const src = readFileSync(ROOT + file, 'utf8');
  for (const q of ["'", '"', '`']) {
    const at = src.indexOf(`test(${q}${title}${q}`);
    if (at < 0) continue;
    const next = src.indexOf('\ntest(', at + 1);
    return src.slice(at, next < 0 ? undefined : next);
  }
  return null;
}

test('every key in conf/netmon.toml has a test that proves its effect', () => {
  const paths = keyPaths(toml.parse(readFileSync(ROOT + 'conf/netmon.toml', 'utf8')) as Record<string, unknown>);
  assert.ok(paths.size > 50, `found ${paths.size} keys`);
  const missing = [...paths].filter((p) => !(p in EFFECTS));
  assert.deepEqual(missing, [], 'keys without an effect test: add one and name it in EFFECTS');
  const stale = Object.keys(EFFECTS).filter((p) => !paths.has(p));
  assert.deepEqual(stale, [], 'EFFECTS names keys conf/netmon.toml does not show');
  const broken: string[] = [];
  for (const [path, eff] of Object.entries(EFFECTS)) {
    const body = testBody(eff.file, eff.title);
    const word = eff.mentions ?? path.slice(path.lastIndexOf('.') + 1).replace('[]', '');
    if (body === null) broken.push(`${path}: no test "${eff.title}" in ${eff.file}`);
    else if (!body.includes(word)) broken.push(`${path}: "${eff.title}" (${eff.file}) never spells ${word}`);
  }
  assert.deepEqual(broken, []);
});

test('log.level drops the lines below it', async () => {
  const b = await startNamedEcho('b');
  const lines = async (level: string): Promise<Set<string>> => {
    const port = await freePort();
    const d = await startTestDaemon(
      simpleConfig({ listenPort: port, backends: [{ name: 'b', port: b.port }] }).replace(
        'level = "debug"',
        `level = "${level}"`,
      ),
    );
    try {
      assert.equal(await whoAnswers(port), 'b');
      d.daemon.setState('web/b', 'drain');
    } finally {
      await d.stop();
    }
    return new Set(d.logs.map((l) => String(l['level'])));
  };
  try {
    const info = await lines('info');
    assert.ok(info.has('info'), [...info].join(','));
    const warn = await lines('warn');
    assert.ok(!warn.has('debug') && !warn.has('info'), `level = "warn" still wrote ${[...warn].join(',')}`);
  } finally {
    await b.close();
  }
});

test('limits size the state table and refuse a config beyond them', () => {
  const text = (limits: string, listeners: number, pools: number, backends: number): string => {
    const out = ['[limits]', limits];
    for (let i = 0; i < listeners; i++)
      out.push('[[listener]]', `name = "l${i}"`, `bind = "127.0.0.1:${20000 + i}"`, 'pool = "p0"');
    for (let p = 0; p < pools; p++) {
      out.push(`[pool.p${p}]`);
      for (let i = 0; i < backends; i++)
        out.push(`[[pool.p${p}.backend]]`, `name = "b${i}"`, `address = "127.0.0.1:${21000 + i}"`);
    }
    return out.join('\n') + '\n';
  };
  const codes = (t: string): string[] => {
    try {
      parseConfig(t, 't.toml');
      return [];
    } catch (err) {
      return (err as ConfigErrors).errors.map((x) => `${x.path} ${x.code}`);
    }
  };
  const c = parseConfig(text('max_listeners = 3\nmax_pools = 2\nmax_backends = 4', 3, 2, 2), 't.toml');
  assert.deepEqual([c.limits.maxListeners, c.limits.maxPools, c.limits.maxBackends], [3, 2, 4]);
  assert.deepEqual(codes(text('max_listeners = 2', 3, 1, 1)), ['limits.max_listeners E_LIMIT']);
  assert.deepEqual(codes(text('max_pools = 1', 1, 2, 1)), ['limits.max_pools E_LIMIT']);
  assert.deepEqual(codes(text('max_backends = 3', 1, 2, 2)), ['limits.max_backends E_LIMIT']);
  // the daemon's state table is sized by them
  const d = new Daemon(c, { configPath: null, load: () => c });
  assert.deepEqual([d.table.cap.listeners, d.table.cap.pools, d.table.cap.backends], [3, 2, 4]);
});

test('backlog is the listening socket’s accept queue', async () => {
  const b = await startNamedEcho('b');
  const port = await freePort();
  const d = await startTestDaemon(
    simpleConfig({ listenPort: port, workers: 1, backends: [{ name: 'b', port: b.port }] }).replace(
      'pool = "web"\n',
      'pool = "web"\nbacklog = 37\n',
    ),
  );
  try {
    // ss shows a listening socket's backlog in Send-Q (iproute2, installed by tools/test-deps.sh)
    const { stdout } = await run('ss', ['-Hltn', `sport = :${port}`]);
    const sendQ = stdout.trim().split(/\s+/)[2];
    assert.equal(sendQ, '37', stdout);
  } finally {
    await d.stop();
    await b.close();
  }
});

test('the [alerts] thresholds decide what fires', () => {
  const alerts = (lines: string): AlertsConfig =>
    parseConfig(
      `[alerts]\n${lines}\n[[listener]]\nname = "l"\nbind = "127.0.0.1:0"\npool = "web"\n` +
        '[pool.web]\n[[pool.web.backend]]\nname = "b"\naddress = "127.0.0.1:1"\n',
      't.toml',
    ).alerts;
  const backend = (name: string, over: Partial<BackendInput>): BackendInput => ({
    key: `web/${name}`,
    pool: 'web',
    name,
    op: 'up',
    admin: 'ready',
    backup: false,
    removed: false,
    weight: 1,
    effectiveWeight: 1,
    active: 0,
    connections: 0,
    agentCpu: null,
    agentMemory: null,
    latency: null,
    ...over,
  });
  // netmon at 1.5 cores and 2 GiB; b1's agent at 95 % CPU, b2's at 97 % memory
  const load: AlertInputs = {
    backends: [backend('b1', { agentCpu: 95, agentMemory: 20 }), backend('b2', { agentCpu: 10, agentMemory: 97 })],
    listeners: [],
    process: { cpu: 1.5, rssBytes: 2 * 1024 ** 3 },
  };
  const fired = (cfg: AlertsConfig): string[] =>
    new RuleSet()
      .evaluate(load, cfg, 0)
      .map((c) => `${c.name} ${c.subject}`)
      .sort();
  assert.deepEqual(fired(alerts('')), [
    'high_cpu daemon',
    'high_cpu web/b1',
    'high_memory daemon',
    'high_memory web/b2',
  ]);
  assert.deepEqual(fired(alerts('cpu_percent = 200')), ['high_cpu web/b1', 'high_memory daemon', 'high_memory web/b2']);
  assert.deepEqual(fired(alerts('memory_bytes = 4294967296')), [
    'high_cpu daemon',
    'high_cpu web/b1',
    'high_memory web/b2',
  ]);
  assert.deepEqual(fired(alerts('agent_cpu_percent = 99')), [
    'high_cpu daemon',
    'high_memory daemon',
    'high_memory web/b2',
  ]);
  assert.deepEqual(fired(alerts('agent_memory_percent = 98')), [
    'high_cpu daemon',
    'high_cpu web/b1',
    'high_memory daemon',
  ]);

  // b3 takes 3x its share of new connections: judged only past imbalance_min_connections a minute
  const distribution = (cfg: AlertsConfig): string[] => {
    const r = new RuleSet();
    let out: string[] = [];
    for (let i = 0; i <= 12; i++) {
      const traffic: AlertInputs = {
        backends: [
          backend('b1', { connections: 20 * i }),
          backend('b2', { connections: 20 * i }),
          backend('b3', { connections: 60 * i }),
        ],
        listeners: [],
        process: { cpu: 0, rssBytes: 0 },
      };
      out = r.evaluate(traffic, cfg, i * 5000).map((c) => `${c.name} ${c.subject}`);
    }
    return out;
  };
  assert.deepEqual(distribution(alerts('')), ['poor_distribution web']);
  assert.deepEqual(distribution(alerts('imbalance_min_connections = 100000')), []);
});

test('alerts.interval is how often the rules run', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const runs = (interval: string): number => {
    const config = parseConfig(
      `[alerts]\ninterval = "${interval}"\n[[listener]]\nname = "l"\nbind = "127.0.0.1:0"\npool = "web"\n` +
        '[pool.web]\n[[pool.web.backend]]\nname = "b"\naddress = "127.0.0.1:1"\n',
      't.toml',
    );
    let n = 0;
    const host: AlertHost = {
      currentConfig: config,
      eventLog: { push: () => {} },
      topology: { backends: { get: () => undefined } },
      snapshot: () => {
        n++;
        return { backends: [], listeners: [], process: { cpu: 0, rssBytes: 0 } } as unknown as Snapshot;
      },
      windowLatency: () => null,
      setAlertSource: () => {},
      onEvent: () => () => {},
      onConfigApplied: () => {},
    };
    const alerts = startAlerts(host, () => 0);
    for (let ms = 0; ms < 1000; ms += 10) t.mock.timers.tick(10);
    void alerts.close();
    return n;
  };
  assert.equal(runs('100ms'), 10);
  assert.equal(runs('250ms'), 4);
});
