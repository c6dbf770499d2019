// Command arguments: one spec per argument, parsed the same way from text words
// (`set weight web/b1 5`) and from a JSON request's `args` object
// (`{"backend":"web/b1","weight":5}`), so both forms reject the same mistakes.
import { NetmonError } from '../../errors.js';

interface ArgBase {
  name: string;
  /** shown in usage: POOL, POOL/BACKEND, N, ... */
  metavar: string;
  optional?: boolean;
}

export type ArgSpec =
  | (ArgBase & { kind: 'name' })
  | (ArgBase & { kind: 'backend' })
  | (ArgBase & { kind: 'int'; min: number; max: number; default?: number })
  | (ArgBase & { kind: 'enum'; values: readonly string[] });

type ArgValue = string | number | undefined;
export type Args = Readonly<Record<string, ArgValue>>;

const NAME = /^[A-Za-z0-9_.:-]{1,128}$/;
/** a backend's name: a written one, or a discovered one ("app#10.0.0.7:8080", "app#[2001:db8::7]:8080") */
const BACKEND_NAME = /^[A-Za-z0-9_.:-]{1,128}(#[0-9A-Fa-f.:[\]]{1,64})?$/;

export function usageOf(specs: readonly ArgSpec[]): string {
  return specs
    .map((s) => {
      // long enumerations (algorithms) are listed in the command's help instead
      const m = s.kind === 'enum' && s.values.length <= 3 ? s.values.join('|') : s.metavar;
      return s.optional ? `[${m}]` : m;
    })
    .join(' ');
}

function bad(spec: ArgSpec, message: string): NetmonError {
  return new NetmonError('E_BAD_ARGUMENT', `${spec.metavar}: ${message}`);
}

/**
 * A received value as a message shows it: a string or number as written (cut
 * at 64 characters), an array or object by its kind. Structures are never
 * serialized: a request line may nest them thousands deep.
 */
function show(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object' && v !== null) return 'an object';
  const s = String(v);
  return JSON.stringify(s.length > 64 ? s.slice(0, 64) + '...' : s);
}

/**
 * One argument's value. `json`: it came typed, in a JSON request's `args`,
 * where a number must be a JSON number (`"5"` is refused: a client that
 * quotes numbers has a bug worth hearing of); typed words are all text.
 */
function convert(spec: ArgSpec, raw: unknown, json: boolean): ArgValue {
  switch (spec.kind) {
    case 'name':
      if (typeof raw !== 'string' || !NAME.test(raw)) throw bad(spec, `expected a name, got ${show(raw)}`);
      return raw;
    case 'backend': {
      if (typeof raw !== 'string') throw bad(spec, `expected POOL/BACKEND, got ${show(raw)}`);
      const parts = raw.split('/');
      if (parts.length !== 2 || !NAME.test(parts[0]!) || !BACKEND_NAME.test(parts[1]!)) {
        throw bad(spec, `expected POOL/BACKEND, got ${show(raw)}`);
      }
      return raw;
    }
    case 'int': {
      if (json && typeof raw !== 'number') throw bad(spec, `expected a JSON number, got ${kindOf(raw)}`);
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d{1,15}$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isInteger(n)) throw bad(spec, `expected an integer, got ${show(raw)}`);
      if (n < spec.min || n > spec.max) throw bad(spec, `must be ${spec.min}..${spec.max}, got ${n}`);
      return n;
    }
    case 'enum':
      if (typeof raw !== 'string' || !spec.values.includes(raw)) {
        throw bad(spec, `expected one of ${spec.values.join(', ')}, got ${show(raw)}`);
      }
      return raw;
  }
}

/** A JSON value with its kind, for a message: `a string "5"`, `a boolean "true"`, `an array`. */
function kindOf(v: unknown): string {
  return typeof v === 'object' && v !== null ? show(v) : `a ${typeof v} ${show(v)}`;
}

function finish(specs: readonly ArgSpec[], got: Map<string, unknown>, json: boolean): Args {
  const out: Record<string, ArgValue> = {};
  for (const spec of specs) {
    const raw = got.get(spec.name);
    if (raw === undefined || raw === null) {
      if (!spec.optional) throw bad(spec, 'missing');
      out[spec.name] = spec.kind === 'int' ? spec.default : undefined;
    } else {
      out[spec.name] = convert(spec, raw, json);
    }
  }
  return out;
}

/** Positional words after the command name. */
export function parseWords(specs: readonly ArgSpec[], words: readonly string[]): Args {
  if (words.length > specs.length) {
    throw new NetmonError('E_BAD_ARGUMENT', `unexpected argument ${show(words[specs.length])}`);
  }
  return finish(specs, new Map(words.map((w, i) => [specs[i]!.name, w])), false);
}

/** A JSON request's `args` object, by name; unknown names are refused (they are usually typos). */
export function parseObject(specs: readonly ArgSpec[], obj: Readonly<Record<string, unknown>>): Args {
  for (const k of Object.keys(obj)) {
    if (!specs.some((s) => s.name === k)) {
      const known = specs.map((s) => s.name).join(', ') || 'none';
      throw new NetmonError('E_BAD_ARGUMENT', `unknown argument ${show(k)} (known: ${known})`);
    }
  }
  return finish(specs, new Map(Object.entries(obj)), true);
}
