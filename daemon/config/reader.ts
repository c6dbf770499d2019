// The one helper every section validator uses: typed getters over a TOML table
// that record a ConfigError and return the default instead of throwing, so a
// single pass reports every problem in the file.
import { ConfigError, type ErrorCode } from '../errors.js';
import { parseAddress, type AddressRules } from './address.js';
import { parseIpRange } from '../net/ip.js';
import { parseDuration } from './duration.js';
import { parseSize } from './size.js';
import { joinPath } from './locate.js';
import { didYouMean } from './suggest.js';
import type { Address, Cidr } from './schema.js';

export type TomlTable = Record<string, unknown>;

/** Problems reported in full; past this they are counted (a file of garbage would list thousands). */
export const MAX_REPORTED_ISSUES = 100;

/** Collects errors; knows the file and how to find a key's line. */
export class Issues {
  readonly list: ConfigError[] = [];
  /** problems found after MAX_REPORTED_ISSUES: counted, not kept */
  omitted = 0;
  constructor(
    readonly file: string,
    private readonly locate: (path: string) => number | undefined = () => undefined,
  ) {}

  /** `message` may be a function, called only for a problem that is kept (suggestions cost time) */
  add(code: ErrorCode, path: string, message: string | (() => string)): void {
    if (this.list.length >= MAX_REPORTED_ISSUES) {
      this.omitted++;
      return;
    }
    const text = typeof message === 'string' ? message : message();
    const e = new ConfigError(code, path, text, this.locate(path));
    e.file = this.file;
    this.list.push(e);
  }
}

export function isTable(v: unknown): v is TomlTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** How a TOML value reads in a message: `string "x"`, `integer 5`, `a table`. */
function describe(v: unknown): string {
  if (typeof v === 'string') return `string ${JSON.stringify(v)}`;
  if (typeof v === 'number') return Number.isInteger(v) ? `integer ${v}` : `float ${v}`;
  if (typeof v === 'boolean') return `boolean ${v}`;
  if (v instanceof Date) return 'a date';
  if (Array.isArray(v)) return 'an array';
  if (isTable(v)) return 'a table';
  return typeof v;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export interface RangeOpts {
  min?: number;
  max?: number;
  /** code for a value outside min..max; E_RANGE unless said */
  code?: ErrorCode;
}

/** One TOML table at a known key path, with the keys it may hold. */
export class Section {
  readonly raw: TomlTable;

  private constructor(
    readonly issues: Issues,
    readonly path: string,
    raw: TomlTable,
    readonly known: readonly string[],
  ) {
    this.raw = raw;
    for (const key of Object.keys(raw)) {
      if (!known.includes(key)) {
        const where = path === '' ? 'at the top level' : `in ${path}`;
        issues.add(
          'E_UNKNOWN_KEY',
          this.at(key),
          () => `unknown key ${JSON.stringify(key)} ${where}${didYouMean(key, known)}`,
        );
      }
    }
  }

  /** A section over `value`; absent = empty, not a table = E_TYPE and empty. */
  static of(issues: Issues, path: string, value: unknown, known: readonly string[]): Section {
    if (value === undefined) return new Section(issues, path, {}, known);
    if (!isTable(value)) {
      issues.add('E_TYPE', path, `expected a table, got ${describe(value)}`);
      return new Section(issues, path, {}, known);
    }
    return new Section(issues, path, value, known);
  }

  at(key: string): string {
    return joinPath(this.path, key);
  }

  has(key: string): boolean {
    return this.raw[key] !== undefined;
  }

  error(key: string, code: ErrorCode, message: string): void {
    this.issues.add(code, key === '' ? this.path : this.at(key), message);
  }

  /** The value, or undefined after reporting E_REQUIRED when `required` and absent. */
  private take(key: string, required: boolean): unknown {
    const v = this.raw[key];
    if (v === undefined && required) this.error(key, 'E_REQUIRED', `"${key}" is required`);
    return v;
  }

  private typeError(key: string, want: string, v: unknown): void {
    this.error(key, 'E_TYPE', `expected ${want}, got ${describe(v)}`);
  }

  optString(key: string, required = false): string | undefined {
    const v = this.take(key, required);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') {
      this.typeError(key, 'a string', v);
      return undefined;
    }
    return v;
  }

  string(key: string, def: string): string {
    return this.optString(key) ?? def;
  }

  bool(key: string, def: boolean): boolean {
    const v = this.take(key, false);
    if (v === undefined) return def;
    if (typeof v !== 'boolean') {
      this.typeError(key, 'true or false', v);
      return def;
    }
    return v;
  }

  int(key: string, def: number, range: RangeOpts = {}): number {
    return this.num(key, def, range, true);
  }

  /** A number that may have a fraction (rates, factors). */
  number(key: string, def: number, range: RangeOpts = {}): number {
    return this.num(key, def, range, false);
  }

  private num(key: string, def: number, range: RangeOpts, integer: boolean): number {
    const v = this.take(key, false);
    if (v === undefined) return def;
    if (typeof v !== 'number' || Number.isNaN(v) || (integer && !Number.isInteger(v))) {
      this.typeError(key, integer ? 'an integer' : 'a number', v);
      return def;
    }
    if (!this.inRange(key, v, String(v), range)) return def;
    return v;
  }

  private inRange(key: string, v: number, shown: string, r: RangeOpts): boolean {
    const min = r.min ?? -Infinity;
    const max = r.max ?? Infinity;
    if (v >= min && v <= max) return true;
    const want =
      r.max === undefined ? `at least ${r.min}` : r.min === undefined ? `at most ${r.max}` : `${r.min}..${r.max}`;
    this.error(key, r.code ?? 'E_RANGE', `must be ${want}, got ${shown}`);
    return false;
  }

  /** Duration in ms; range bounds are ms too. */
  duration(key: string, def: number, range: RangeOpts = {}): number {
    const v = this.take(key, false);
    if (v === undefined) return def;
    if (typeof v === 'number') {
      this.error(key, 'E_DURATION', `durations are strings with a unit: write "${v}s" or "${v}ms", not ${v}`);
      return def;
    }
    if (typeof v !== 'string') {
      this.typeError(key, 'a duration string such as "2s"', v);
      return def;
    }
    const d = parseDuration(v);
    if (!d.ok) {
      this.error(key, 'E_DURATION', d.reason);
      return def;
    }
    const shown = JSON.stringify(v);
    const r = { ...range, min: range.min, max: range.max };
    if (!this.inRangeMs(key, d.ms, shown, r)) return def;
    return d.ms;
  }

  private inRangeMs(key: string, ms: number, shown: string, r: RangeOpts): boolean {
    const min = r.min ?? 0;
    const max = r.max ?? Infinity;
    if (ms >= min && ms <= max) return true;
    const fmt = (x: number): string => (x % 1000 === 0 ? `${x / 1000}s` : `${x}ms`);
    const want = r.max === undefined ? `at least ${fmt(min)}` : `${fmt(min)}..${fmt(max)}`;
    this.error(key, r.code ?? 'E_RANGE', `must be ${want}, got ${shown}`);
    return false;
  }

  /** Size in bytes: an integer, or a string with a unit ("16KiB"); range bounds are bytes. */
  size(key: string, def: number, range: RangeOpts = {}): number {
    const v = this.take(key, false);
    if (v === undefined) return def;
    let bytes: number;
    if (typeof v === 'number' && Number.isInteger(v)) bytes = v;
    else if (typeof v === 'string') {
      const r = parseSize(v);
      if (!r.ok) {
        this.error(key, 'E_SIZE', r.reason);
        return def;
      }
      bytes = r.bytes;
    } else {
      this.typeError(key, 'a size such as "16KiB" or a number of bytes', v);
      return def;
    }
    if (!this.inRange(key, bytes, JSON.stringify(v), range)) return def;
    return bytes;
  }

  /**
   * A list of distinct words from `values` (`["a", "b"]`); absent = `def`.
   * A word not in `values` is E_ENUM at `key[i]`, a repeated one E_CONFLICT.
   */
  enumList<T extends string>(key: string, values: readonly T[], def: readonly T[]): T[] {
    const v = this.take(key, false);
    if (v === undefined) return [...def];
    if (!Array.isArray(v)) {
      this.typeError(key, `an array of ${values.map((x) => JSON.stringify(x)).join(', ')}`, v);
      return [...def];
    }
    const out: T[] = [];
    v.forEach((item, i) => {
      const at = `${this.at(key)}[${i}]`;
      if (typeof item !== 'string' || !(values as readonly string[]).includes(item)) {
        const shown = typeof item === 'string' ? `"${item}"` : describe(item);
        this.issues.add(
          'E_ENUM',
          at,
          `${shown} is not one of ${values.join(', ')}${typeof item === 'string' ? didYouMean(item, values) : ''}`,
        );
      } else if (out.includes(item as T)) this.issues.add('E_CONFLICT', at, `"${item}" is listed twice`);
      else out.push(item as T);
    });
    return out;
  }

  /** One of `values`; a near miss gets a suggestion. */
  oneOf<T extends string>(key: string, values: readonly T[], def: T): T {
    const v = this.take(key, false);
    if (v === undefined) return def;
    if (typeof v !== 'string') {
      this.typeError(key, `one of ${values.join(', ')}`, v);
      return def;
    }
    if ((values as readonly string[]).includes(v)) return v as T;
    this.error(key, 'E_ENUM', `"${v}" is not one of ${values.join(', ')}${didYouMean(v, values)}`);
    return def;
  }

  address(key: string, rules: AddressRules, required: boolean): Address | null {
    const v = this.optString(key, required);
    if (v === undefined) return null;
    const a = parseAddress(v, rules);
    if (!a.ok) {
      this.error(key, a.code, a.reason);
      return null;
    }
    return a.address;
  }

  /** A listener, pool or backend name (also used as a metric label and in `pool/backend`). */
  name(key: string): string | undefined {
    const v = this.optString(key, true);
    if (v === undefined) return undefined;
    if (!NAME.test(v)) {
      this.error(
        key,
        'E_NAME',
        `${JSON.stringify(v)} must be 1..64 of A-Z a-z 0-9 _ - and start with a letter or digit`,
      );
      return undefined;
    }
    return v;
  }

  /**
   * An array of networks ("10.0.0.0/8", "2001:db8::/32", single addresses), each
   * read by ip.ts; an entry it cannot read is E_CIDR at `key[i]`. Absent = [].
   */
  cidrList(key: string): Cidr[] {
    const v = this.take(key, false);
    if (v === undefined) return [];
    if (!Array.isArray(v)) {
      this.typeError(key, 'an array of networks such as ["10.0.0.0/8"]', v);
      return [];
    }
    const out: Cidr[] = [];
    v.forEach((item, i) => {
      const at = `${this.at(key)}[${i}]`;
      if (typeof item !== 'string') {
        this.issues.add('E_TYPE', at, `expected a network such as "10.0.0.0/8", got ${describe(item)}`);
        return;
      }
      const r = parseIpRange(item);
      if (r.ok) out.push(r.range);
      else this.issues.add('E_CIDR', at, r.reason);
    });
    return out;
  }

  /** A nested table (`timeouts = { ... }` or `[x.timeouts]`). */
  section(key: string, known: readonly string[]): Section {
    return Section.of(this.issues, this.at(key), this.raw[key], known);
  }

  /** An array of tables (`[[x.key]]` blocks or `key = [ {..}, {..} ]`); absent = []. */
  tables(key: string, known: readonly string[], header: string): Section[] {
    const v = this.raw[key];
    if (v === undefined) return [];
    const path = this.at(key);
    if (!Array.isArray(v)) {
      this.issues.add('E_TYPE', path, `expected an array of tables: write [[${header}]] blocks, got ${describe(v)}`);
      return [];
    }
    const out: Section[] = [];
    v.forEach((item, i) => {
      const s = Section.of(this.issues, `${path}[${i}]`, item, known);
      if (isTable(item)) out.push(s);
    });
    return out;
  }
}
