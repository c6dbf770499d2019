// Agent data in an http health response body (daemon/control/health/agent.ts).
// Invariants: never throws; the answer is nothing, or only the fields the
// contract names (cpu and memory 0..100, connections >= 0, all finite); and it
// is exactly what the contract makes of the body: a JSON object's valid fields.
import { parseAgent } from '../../../daemon/control/health/agent.js';
import type { AgentData } from '../../../daemon/control/health/probe-types.js';
import { tokens } from '../mutate.js';
import type { Rng } from '../rng.js';
import { oracle } from '../oracle.js';
import { show, type FuzzTarget } from '../target.js';

/** The contract, stated independently: what the body must give. */
function contract(body: string): AgentData | undefined {
  const text = body.trim();
  if (!text.startsWith('{')) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const out: AgentData = {};
  const num = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x >= 0;
  if (num(o.cpu) && o.cpu <= 100) out.cpu = o.cpu;
  if (num(o.memory) && o.memory <= 100) out.memory = o.memory;
  if (num(o.connections)) out.connections = o.connections;
  return Object.keys(out).length > 0 ? out : undefined;
}

function value(rng: Rng): unknown {
  switch (rng.int(9)) {
    case 0:
      return rng.int(101);
    case 1:
      return rng.int(10_000) / 100;
    case 2:
      return rng.pick([-1, 100.0001, 1e308, -0, 0, 100, 1e-300]);
    case 3:
      return String(rng.int(100));
    case 4:
      return null;
    case 5:
      return [rng.int(100)];
    case 6:
      return { v: rng.int(100) };
    case 7:
      return rng.chance(0.5);
    default:
      return rng.int(1_000_000);
  }
}

function structured(rng: Rng): { input: Buffer } {
  const o: Record<string, unknown> = {};
  for (const k of ['cpu', 'memory', 'connections', 'status', 'load']) if (rng.chance(0.6)) o[k] = value(rng);
  let text = JSON.stringify(o, null, rng.chance(0.3) ? 2 : undefined);
  if (rng.chance(0.1)) text = '['.repeat(rng.range(1, 5000)) + ']'.repeat(rng.range(1, 5000));
  if (rng.chance(0.1)) text = `{"cpu": 5, "x": ${'['.repeat(3000)}${']'.repeat(3000)}}`;
  const pad = (): string => rng.pick(['', ' ', '\n', '\r\n', '\t ']);
  return { input: Buffer.from(pad() + text + pad(), 'utf8') };
}

function check(input: Buffer): string | null {
  const body = input.toString('utf8');
  const got = parseAgent(body);
  return oracle(() => {
    const want = contract(body);
    return show(got) === show(want) ? null : `got ${show(got)}, the contract says ${show(want)}`;
  });
}

export const agentTarget: FuzzTarget = {
  name: 'agent',
  title: 'agent JSON',
  maxLength: 16 * 1024,
  dictionary: tokens([
    '{',
    '}',
    '"cpu":',
    '"memory":',
    '"connections":',
    ':',
    ',',
    '1e999',
    '-0',
    'NaN',
    '100',
    '[',
    ']',
    'null',
    '"',
  ]),
  structured,
  check,
};
