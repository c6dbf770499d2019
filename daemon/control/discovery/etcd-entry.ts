// One backend as an etcd key holds it: the key is PREFIX + NAME, the value JSON
//   {"address": "10.0.0.7:8080", "weight": 10, "backup": false, "max_connections": 0, "state": "ready"}
// Only "address" is required (an IP literal: an etcd entry is not resolved);
// weight 1..256 (default 1), backup (default false), max_connections (default
// 0 = unlimited), state ready | drain | maint (default: left to the operator).
// A value that is not this is refused whole, with the reason (E_DISCOVERY_ENTRY).
import { parseAddress } from '../../config/address.js';
import { ADMIN_NAMES, type AdminStateName } from '../../state/names.js';
import type { Found } from './source.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const KEYS = new Set(['address', 'weight', 'backup', 'max_connections', 'state']);

export type EntryResult = { ok: true; found: Found } | { ok: false; reason: string };

/** The backend an entry describes, or why it is refused. `name` is the key without the prefix. */
export function parseEntry(name: string, value: string): EntryResult {
  const bad = (reason: string): EntryResult => ({ ok: false, reason: `${name}: ${reason}` });
  if (!NAME.test(name)) return bad('the key after the prefix must be 1..64 of A-Z a-z 0-9 _ . - (one backend name)');
  let v: unknown;
  try {
    v = JSON.parse(value);
  } catch {
    return bad('the value is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad('the value must be a JSON object');
  const o = v as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !KEYS.has(k));
  if (unknown.length > 0) return bad(`unknown field(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')}`);
  if (typeof o.address !== 'string') return bad('"address" ("ip:port") is required');
  const a = parseAddress(o.address, { allowName: false, allowPortZero: false });
  if (!a.ok) return bad(`"address": ${a.reason.replace('a bind address', 'an etcd entry')}`);
  const weight = o.weight ?? 1;
  if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 1 || weight > 256) {
    return bad(`"weight" must be an integer 1..256, got ${shown(o.weight)}`);
  }
  const backup = o.backup ?? false;
  if (typeof backup !== 'boolean') return bad(`"backup" must be true or false, got ${shown(o.backup)}`);
  const maxConnections = o.max_connections ?? 0;
  if (
    typeof maxConnections !== 'number' ||
    !Number.isInteger(maxConnections) ||
    maxConnections < 0 ||
    maxConnections > 1_000_000
  ) {
    return bad(`"max_connections" must be an integer 0..1000000, got ${shown(o.max_connections)}`);
  }
  const state = o.state ?? null;
  if (state !== null && !(ADMIN_NAMES as readonly unknown[]).includes(state)) {
    return bad(`"state" must be one of ${ADMIN_NAMES.join(', ')}, got ${shown(o.state)}`);
  }
  return {
    ok: true,
    found: {
      id: name,
      ip: a.address.host,
      port: a.address.port,
      weight,
      backup,
      maxConnections,
      admin: state as AdminStateName | null,
      host: '',
    },
  };
}

/**
 * A field's value for a reason: a scalar as JSON, an array or object by its kind (one nested
 * thousands deep would overflow the stack when serialized: a raw RangeError, not a refusal).
 */
function shown(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object' && v !== null) return 'an object';
  return JSON.stringify(v);
}

/** An entry's value with `patch` applied (a fleet-wide `set state` / `set weight`), other fields kept as they are. */
export function patchEntry(value: string, patch: { state?: AdminStateName; weight?: number }): string {
  const o = JSON.parse(value) as Record<string, unknown>;
  if (patch.state !== undefined) o.state = patch.state;
  if (patch.weight !== undefined) o.weight = patch.weight;
  return JSON.stringify(o);
}
