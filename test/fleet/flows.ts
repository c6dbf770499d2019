// Reading the clients' flow records: which instance served what, which flows
// failed and when, whether a client kept its backend. The fleet tests assert on
// these and print them as the figures docs/fleet.md records.
import type { FlowRecord } from './agents/flow-client.js';

/** A connect refused: its SYN met a closed port (what the lame-duck period is there to prevent). */
export const REFUSED = 'ECONNREFUSED';

/** Flows with a time in [from, to) (start time). */
export function startedIn(flows: readonly FlowRecord[], from: number, to = Infinity): FlowRecord[] {
  return flows.filter((f) => f.start >= from && f.start < to);
}

/** Whether a flow was alive at some time in [from, to]: started before `to`, ended after `from`. */
export function inFlightDuring(f: FlowRecord, from: number, to: number, slackMs: number): boolean {
  return f.start <= to + slackMs && f.end >= from - slackMs;
}

/** Share of successful flows per relaying address (the instance), in percent, sorted by address. */
export function sharePerInstance(flows: readonly FlowRecord[]): Map<string, number> {
  const ok = flows.filter((f) => f.ok && f.via !== null);
  const counts = new Map<string, number>();
  for (const f of ok) counts.set(f.via!, (counts.get(f.via!) ?? 0) + 1);
  const out = new Map<string, number>();
  for (const k of [...counts.keys()].sort()) out.set(k, Math.round((counts.get(k)! / ok.length) * 1000) / 10);
  return out;
}

/** Client addresses whose successful flows reached more than one backend, with the backends. */
export function clientsThatChangedBackend(flows: readonly FlowRecord[]): Map<string, Set<string>> {
  const seen = new Map<string, Set<string>>();
  for (const f of flows) {
    if (!f.ok || f.backend === null) continue;
    let s = seen.get(f.src);
    if (!s) seen.set(f.src, (s = new Set()));
    s.add(f.backend);
  }
  return new Map([...seen].filter(([, s]) => s.size > 1));
}

/** Client addresses served through instance `a` before `t` and through another one after it. */
export function clientsMovedAway(flows: readonly FlowRecord[], via: string, t: number): string[] {
  const before = new Set(flows.filter((f) => f.ok && f.via === via && f.start < t).map((f) => f.src));
  const after = new Set(flows.filter((f) => f.ok && f.via !== via && f.start > t).map((f) => f.src));
  return [...before].filter((s) => after.has(s));
}

export function countBy(flows: readonly FlowRecord[], key: (f: FlowRecord) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of flows) out[key(f)] = (out[key(f)] ?? 0) + 1;
  return out;
}

/** "[start+12ms ECONNRESET via 10.2.0.12]" lines for an assertion message. */
export function describe(flows: readonly FlowRecord[], origin: number, max = 10): string {
  return flows
    .slice(0, max)
    .map(
      (f) =>
        `  ${f.kind} from ${f.src}: ${(f.start - origin).toFixed(1)}..${(f.end - origin).toFixed(1)} ms ${f.err ?? 'ok'} via ${f.via ?? '-'}`,
    )
    .join('\n');
}

/** The figures a test prints, as `fleet NAME: key = value` diagnostics in the test output. */
export function printFigures(
  t: { diagnostic(message: string): void },
  name: string,
  figures: Record<string, string | number>,
): void {
  for (const [k, v] of Object.entries(figures)) t.diagnostic(`fleet ${name}: ${k} = ${v}`);
}
