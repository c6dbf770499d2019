// Alerts that do not flap, on an injected clock: the listener counter a daemon's
// alert service read every second under a steady paced load (recorded in
// test/fixtures/alerts/steady-paced-20.json: 20 conn/s, timer drift and the
// per-second noise of a paced client included) goes through the real rules and
// engine with `interval = "1s"` and the other settings at their defaults. The
// rate sits at spike_min_rate and dips under it now and then; the baseline
// starts from the idle seconds before the load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RuleSet } from '../../daemon/control/alerts/rules.js';
import { AlertEngine } from '../../daemon/control/alerts/engine.js';
import { parseConfig } from '../../daemon/config/load.js';
import type { AlertsConfig } from '../../daemon/config/schema.js';

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/alerts/steady-paced-20.json', import.meta.url));
const recorded = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { series: [number, number][] };

const CFG: AlertsConfig = parseConfig(
  '[alerts]\ninterval = "1s"\n[[listener]]\nname = "web"\nbind = "127.0.0.1:0"\npool = "p"\n[pool.p]\n[[pool.p.backend]]\nname = "b"\naddress = "127.0.0.1:1"\n',
  't.toml',
).alerts;

/** Runs (time ms, accepted) pairs through the rules and the engine; the transitions of traffic_spike, with their times in s. */
function replay(series: readonly [number, number][], cfg = CFG): string[] {
  const rules = new RuleSet();
  const seen: string[] = [];
  const engine = new AlertEngine((a) => {
    if (a.name === 'traffic_spike')
      seen.push(`${a.state}@${Math.round((a.resolvedAt ?? a.firedAt ?? a.since) / 1000)}`);
  });
  for (const [t, accepted] of series) {
    const conditions = rules.evaluate(
      { backends: [], listeners: [{ name: 'web', accepted }], process: { cpu: 0, rssBytes: 0 } },
      cfg,
      t,
    );
    engine.update(conditions, { forMs: cfg.for, keepFiringForMs: cfg.keepFiringFor }, t);
  }
  return seen;
}

/** The recorded load after `idleS` seconds of no traffic, its per-second increments repeated for `loadS` seconds. */
function afterIdle(idleS: number, loadS: number): [number, number][] {
  const s = recorded.series;
  const out: [number, number][] = [];
  for (let t = 0; t < idleS; t++) out.push([t * 1000, 0]);
  // the increments once the load runs (from the recording's sixth second)
  const steps = s.slice(6).map(([t, a], i) => [t - s[5 + i]![0], a - s[5 + i]![1]] as const);
  let [t, accepted] = [idleS * 1000, 0];
  for (let i = 0; t < (idleS + loadS) * 1000; i++) {
    const [dt, n] = steps[i % steps.length]!;
    t += dt;
    accepted += n;
    out.push([t, accepted]);
  }
  return out;
}

test('a steady paced load is no traffic spike: not one transition in 150 s of evaluations every second', () => {
  assert.ok(recorded.series.length > 150);
  assert.deepEqual(replay(recorded.series), []);
});

test('the same load after ten idle minutes is one spike: pending, firing, and resolved once it is the new normal', () => {
  const seen = replay(afterIdle(600, 420));
  assert.equal(seen.length, 3, seen.join(' '));
  const [pending, firing, resolved] = seen.map((x) => Number(x.split('@')[1]));
  assert.match(seen[0]!, /^pending@/);
  assert.match(seen[1]!, /^firing@/);
  assert.match(seen[2]!, /^resolved@/);
  assert.ok(pending! >= 600 && pending! <= 606, `pending as the load starts: ${seen[0]}`);
  assert.ok(Math.abs(firing! - pending! - CFG.for / 1000) <= 1, `fires alerts.for later: ${seen[1]}`);
  // a whole baseline_window of it is the new normal; keep_firing_for later it resolves
  const expected = (CFG.baselineWindow + CFG.keepFiringFor) / 1000;
  assert.ok(Math.abs(resolved! - pending! - expected) <= 2, seen.join(' '));
});

test('a burst just over the threshold fires once and resolves once: the baseline does not chase it', () => {
  // ten minutes at 40 conn/s, then two minutes at 125 conn/s give or take 8%
  // (so about one evaluation in four is under 3 x 40), then 40 again
  let accepted = 0;
  const series: [number, number][] = [];
  let x = 7;
  const noise = (): number => ((x = (x * 48271) % 2147483647) / 2147483647 - 0.5) * 0.16;
  for (let t = 0; t <= 900; t++) {
    const rate = t >= 600 && t < 720 ? 125 * (1 + noise()) : 40;
    accepted += Math.round(rate);
    series.push([t * 1000, accepted]);
  }
  const seen = replay(series);
  assert.deepEqual(
    seen.map((s) => s.split('@')[0]),
    ['pending', 'firing', 'resolved'],
    seen.join(' '),
  );
  const resolved = Number(seen[2]!.split('@')[1]);
  assert.ok(resolved >= 720 + CFG.keepFiringFor / 1000 && resolved <= 722 + CFG.keepFiringFor / 1000, seen.join(' '));
});

test('keep_firing_for = "0s" resolves on the first evaluation without the condition, as before', () => {
  const cfg = { ...CFG, keepFiringFor: 0 };
  const seen = replay(afterIdle(600, 120), cfg);
  assert.ok(seen.length > 3, `a rate at spike_min_rate flickers without a hold: ${seen.length} transitions`);
});
