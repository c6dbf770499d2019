// The built-in rules on synthetic inputs and a fake clock: backend down, high
// latency, CPU and memory (daemon and agent), a 5x traffic burst, and a pool
// whose 1:1:1 weights are not followed because one backend hogs long connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RuleSet } from '../../daemon/control/alerts/rules.js';
import { latencyP95Ms } from '../../daemon/control/alerts/latency.js';
import { cv } from '../../daemon/control/alerts/distribution.js';
import { parseConfig } from '../../daemon/config/load.js';
import { LATENCY_BUCKETS } from '../../daemon/state/names.js';
import type { AlertInputs, BackendInput } from '../../daemon/control/alerts/inputs.js';
import type { Condition } from '../../daemon/control/alerts/condition.js';
import type { AlertsConfig } from '../../daemon/config/schema.js';

const DEFAULTS: AlertsConfig = parseConfig(
  '[[listener]]\nname = "l"\nbind = "127.0.0.1:0"\npool = "p"\n[pool.p]\n[[pool.p.backend]]\nname = "b"\naddress = "127.0.0.1:1"\n',
  't.toml',
).alerts;

function backend(name: string, over: Partial<BackendInput> = {}): BackendInput {
  return {
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
  };
}

function inputs(over: Partial<AlertInputs> = {}): AlertInputs {
  return { backends: [], listeners: [], process: { cpu: 0.05, rssBytes: 50e6 }, ...over };
}

/** per-bucket counts with `n` samples in the bucket whose upper bound is `le` seconds */
function hist(n: number, le: number): number[] {
  const counts = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0);
  counts[LATENCY_BUCKETS.indexOf(le as (typeof LATENCY_BUCKETS)[number])] = n;
  return counts;
}

test('defaults match the documented thresholds', () => {
  assert.equal(DEFAULTS.latencyP95, 200);
  assert.equal(DEFAULTS.interval, 5000);
  assert.equal(DEFAULTS.for, 10_000);
});

test('backend_down: a down backend, unless in maint or removed', () => {
  const r = new RuleSet();
  const found = r.evaluate(
    inputs({
      backends: [
        backend('b1'),
        backend('b2', { op: 'down' }),
        backend('b3', { op: 'down', admin: 'maint' }),
        backend('b4', { op: 'down', removed: true }),
      ],
    }),
    DEFAULTS,
    0,
  );
  assert.deepEqual(
    found.map((c) => [c.name, c.subject, c.severity, c.immediate]),
    [['backend_down', 'web/b2', 'critical', true]],
  );
});

test('backend_down says why: failed health checks, or connections failing (passive ejection)', () => {
  const found = new RuleSet().evaluate(
    inputs({
      backends: [backend('b1', { op: 'down', cause: 'health' }), backend('b2', { op: 'down', cause: 'passive' })],
    }),
    DEFAULTS,
    0,
  );
  assert.deepEqual(
    found.map((c) => c.message),
    ['backend web/b1 is down (failing health checks)', 'backend web/b2 is down (connections to it failing)'],
  );
});

test('high_latency: p95 of connect + first byte over latency_p95, with enough samples', () => {
  const fast = { connect: hist(50, 0.001), firstByte: hist(50, 0.005) };
  const slow = { connect: hist(50, 0.001), firstByte: [...hist(45, 0.005)].map((v, i) => v + hist(5, 0.5)[i]!) };
  const few = { connect: hist(2, 1), firstByte: hist(2, 1) };
  assert.ok(latencyP95Ms(fast)! < 10);
  assert.ok(latencyP95Ms(slow)! > 250, `p95 ${latencyP95Ms(slow)}`);
  assert.equal(latencyP95Ms(few), null);
  const r = new RuleSet();
  const found = r.evaluate(
    inputs({
      backends: [backend('b1', { latency: fast }), backend('b2', { latency: slow }), backend('b3', { latency: few })],
    }),
    DEFAULTS,
    0,
  );
  assert.deepEqual(
    found.map((c) => [c.name, c.subject, c.threshold]),
    [['high_latency', 'web/b2', 200]],
  );
  assert.equal(
    new RuleSet().evaluate(inputs({ backends: [backend('b2', { latency: slow })] }), { ...DEFAULTS, latencyP95: 0 }, 0)
      .length,
    0,
    '0 turns it off',
  );
});

test('high_cpu and high_memory: the daemon and agent-reported backend load', () => {
  const r = new RuleSet();
  const found = r.evaluate(
    inputs({
      process: { cpu: 1.5, rssBytes: 2 * 1024 ** 3 },
      backends: [
        backend('b1', { agentCpu: 95, agentMemory: 20 }),
        backend('b2', { agentCpu: 10, agentMemory: 97 }),
        backend('b3'),
      ],
    }),
    DEFAULTS,
    0,
  );
  assert.deepEqual(found.map((c) => `${c.name} ${c.subject} ${c.value}`).sort(), [
    'high_cpu daemon 150',
    'high_cpu web/b1 95',
    'high_memory daemon 2147483648',
    'high_memory web/b2 97',
  ]);
});

test('traffic_spike: a 5x burst over a steady baseline fires, and the baseline does not swallow it', () => {
  const r = new RuleSet();
  const cfg = { ...DEFAULTS, spikeFactor: 3, spikeMinRate: 20, baselineWindow: 300_000 };
  let accepted = 0;
  let t = 0;
  const step = (rate: number): string[] => {
    t += 5000;
    accepted += rate * 5;
    return r.evaluate(inputs({ listeners: [{ name: 'web', accepted }] }), cfg, t).map((c) => `${c.name} ${c.subject}`);
  };
  for (let i = 0; i < 120; i++) assert.deepEqual(step(40 + (i % 3) * 5), [], 'steady traffic is no spike'); // 10 minutes
  for (let i = 0; i < 12; i++) assert.deepEqual(step(220), ['traffic_spike web'], `burst, minute ${(i * 5) / 60}`);
  assert.deepEqual(step(45), [], 'back to normal');
  // a quiet listener never spikes under spike_min_rate
  const quiet = new RuleSet();
  let n = 0;
  for (let i = 1; i <= 100; i++) {
    n += i > 80 ? 50 : 1;
    assert.deepEqual(quiet.evaluate(inputs({ listeners: [{ name: 'q', accepted: n }] }), cfg, i * 5000), []);
  }
});

test('traffic_spike: an extra evaluation milliseconds later keeps the finding and is no rate', () => {
  const r = new RuleSet();
  const cfg = { ...DEFAULTS, baselineWindow: 60_000 };
  let accepted = 0;
  const at = (t: number): string[] =>
    r.evaluate(inputs({ listeners: [{ name: 'web', accepted }] }), cfg, t).map((c) => c.name);
  for (let t = 0; t <= 60_000; t += 5000, accepted += 5 * 30) assert.deepEqual(at(t), []);
  accepted += 1;
  assert.deepEqual(at(60_010), [], 'one connection in 10 ms is not 100 conn/s');
  accepted += 5 * 200;
  assert.deepEqual(at(65_000), ['traffic_spike']);
  accepted += 1;
  assert.deepEqual(at(65_005), ['traffic_spike'], 'the spike still stands');
});

test('traffic_spike waits for a warm baseline', () => {
  const r = new RuleSet();
  const cfg = { ...DEFAULTS, baselineWindow: 300_000 };
  const at = (t: number, accepted: number): number =>
    r.evaluate(inputs({ listeners: [{ name: 'web', accepted }] }), cfg, t).length;
  assert.equal(at(0, 0), 0);
  assert.equal(at(5000, 50), 0);
  assert.equal(at(10_000, 5000), 0, 'ten seconds of history is not a baseline');
});

test('poor_distribution: weights 1:1:1 with one backend hogging long connections', () => {
  const r = new RuleSet();
  const found: string[][] = [];
  for (let i = 0; i <= 12; i++) {
    // round robin hands out new connections evenly, but b1's never end
    const c = i * 30;
    const out = r.evaluate(
      inputs({
        backends: [
          backend('b1', { connections: c, active: 3 * i }),
          backend('b2', { connections: c, active: i % 2 }),
          backend('b3', { connections: c, active: 0 }),
        ],
      }),
      DEFAULTS,
      i * 5000,
    );
    found.push(out.map((x) => `${x.name} ${x.subject}`));
  }
  assert.deepEqual(found[found.length - 1], ['poor_distribution web']);
  const last = r.evaluate(
    inputs({
      backends: [
        backend('b1', { connections: 400, active: 40 }),
        backend('b2', { connections: 400 }),
        backend('b3', { connections: 400 }),
      ],
    }),
    DEFAULTS,
    65_000,
  )[0]!;
  assert.match(last.message, /concurrent connections per weight/);
  assert.ok(last.value > DEFAULTS.imbalanceCv);
});

test('poor_distribution: new connections that follow the weights are fine; ignoring them is not', () => {
  const run = (share: (i: number) => [number, number, number]): string[] => {
    const r = new RuleSet();
    let out: string[] = [];
    for (let i = 0; i <= 12; i++) {
      const [a, b, c] = share(i);
      out = r
        .evaluate(
          inputs({
            backends: [
              backend('b1', { weight: 3, effectiveWeight: 3, connections: a }),
              backend('b2', { weight: 1, effectiveWeight: 1, connections: b }),
              backend('b3', { weight: 1, effectiveWeight: 1, connections: c }),
            ],
          }),
          DEFAULTS,
          i * 5000,
        )
        .map((x) => `${x.name} ${x.subject}`);
    }
    return out;
  };
  assert.deepEqual(
    run((i) => [60 * i, 20 * i, 20 * i]),
    [],
    '3:1:1 traffic on 3:1:1 weights',
  );
  assert.deepEqual(
    run((i) => [20 * i, 20 * i, 60 * i]),
    ['poor_distribution web'],
    'b3 takes 3x its share',
  );
  assert.deepEqual(
    run((i) => [i, 0, i]),
    [],
    'too few connections to judge',
  );
  assert.equal(cv([2, 2, 2]), 0);
  assert.ok(Math.abs(cv([3, 0, 0]) - Math.SQRT2) < 1e-9);
});

test('poor_distribution: a backend measurably slower is not expected to take its share; alike ones are', () => {
  const run = (b1Latency: BackendInput['latency'], b3Share: number): Condition[] => {
    const r = new RuleSet();
    let out: Condition[] = [];
    for (let i = 0; i <= 12; i++) {
      // b1 gets the probes of a latency-aware algorithm only
      out = r.evaluate(
        inputs({
          backends: [
            backend('b1', { connections: 2 * i, latency: b1Latency }),
            backend('b2', {
              connections: 40 * i,
              latency: { connect: hist(200, 0.0005), firstByte: hist(200, 0.0025) },
            }),
            backend('b3', {
              connections: b3Share * i,
              latency: { connect: hist(200, 0.0005), firstByte: hist(200, 0.0025) },
            }),
          ],
        }),
        DEFAULTS,
        i * 5000,
      );
    }
    return out;
  };
  const slow = { connect: hist(20, 0.0005), firstByte: hist(20, 0.1) };
  assert.deepEqual(run(slow, 40), [], 'b1 answers in 100 ms: its small share is the algorithm working');
  const starved = run(slow, 5);
  assert.equal(starved.length, 1, 'b3 answers like b2 and is starved');
  assert.match(starved[0]!.message, /b2=\d+\/w1 b3=\d+\/w1 \(slower, not judged: b1\)/);
  const alike = { connect: hist(20, 0.0005), firstByte: hist(20, 0.0025) };
  assert.equal(run(alike, 40).length, 1, 'b1 answers like the others: its small share is poor');
  assert.equal(run(null, 40).length, 1, 'b1 with no latency known is judged');
});
