// The agent contract: an http health response whose body is a JSON object may
// report its backend's load. Each field is optional and kept only when valid.
import type { AgentData } from './probe-types.js';

/** Agent data from a JSON body, or undefined when it is not JSON or reports nothing usable. */
export function parseAgent(body: string): AgentData | undefined {
  const text = body.trim();
  if (!text.startsWith('{')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const o = value as Record<string, unknown>;
  const agent: AgentData = {};
  const cpu = percent(o.cpu);
  const memory = percent(o.memory);
  const connections = count(o.connections);
  if (cpu !== undefined) agent.cpu = cpu;
  if (memory !== undefined) agent.memory = memory;
  if (connections !== undefined) agent.connections = connections;
  return cpu === undefined && memory === undefined && connections === undefined ? undefined : agent;
}

function percent(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 100 ? v : undefined;
}

function count(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
}
