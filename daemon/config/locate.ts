// Maps key paths ("pool.web.backend[2].weight") to the line that defines them, so
// semantic errors point at a line like syntax errors do. A best-effort scan of
// table headers and `key =` lines; a path it does not know falls back to its
// closest known ancestor (usually the table header). It runs on text that
// toml.parse has already accepted, never throws, and takes time linear in the
// text: keys are decoded by TOML's rules (not JSON's), and paths deeper than
// any the validator reports (MAX_DEPTH segments) are not recorded.

const BARE = /^[A-Za-z0-9_-]+$/;
const KEY_PART = String.raw`(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')`;
const DOTTED = new RegExp(String.raw`^(${KEY_PART}(?:\s*\.\s*${KEY_PART})*)`);
const ARRAY_HEADER = new RegExp(String.raw`^\[\[\s*(${KEY_PART}(?:\s*\.\s*${KEY_PART})*)\s*\]\]`);
const TABLE_HEADER = new RegExp(String.raw`^\[\s*(${KEY_PART}(?:\s*\.\s*${KEY_PART})*)\s*\]`);
const KEY_LINE = new RegExp(String.raw`^(${KEY_PART}(?:\s*\.\s*${KEY_PART})*)\s*=`);

/**
 * Deepest path recorded, in segments. The validator reports keys at most a few
 * levels down (pool.web.backend[2].health.expect); a deeper path is located by
 * its ancestor. Without the bound, a dotted key of n segments records n paths
 * of up to n segments each: quadratic time.
 */
const MAX_DEPTH = 16;

/** One path segment as it appears in messages: bare when possible, else quoted. */
function segment(name: string): string {
  return BARE.test(name) ? name : JSON.stringify(name);
}

export function joinPath(parent: string, key: string): string {
  return parent === '' ? segment(key) : `${parent}.${segment(key)}`;
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  b: '\b',
  t: '\t',
  n: '\n',
  f: '\f',
  r: '\r',
  e: '\x1b',
  '"': '"',
  '\\': '\\',
};
const HEX_DIGITS: Readonly<Record<string, number>> = { x: 2, u: 4, U: 8 };

/**
 * The text of a TOML basic string body (between the quotes): escapes as TOML
 * 1.1 defines them (\b \t \n \f \r \e \" \\ \xHH \uXXXX \UXXXXXXXX), raw tabs
 * allowed. An escape TOML would refuse (never seen: the text was parsed first)
 * is kept as written rather than thrown.
 */
function tomlBasicString(body: string): string {
  if (!body.includes('\\')) return body;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\' || i + 1 >= body.length) {
      out += c;
      continue;
    }
    const e = body[i + 1]!;
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      out += simple;
      i++;
      continue;
    }
    const n = HEX_DIGITS[e];
    const hex = n === undefined ? '' : body.slice(i + 2, i + 2 + n);
    const cp = n !== undefined && hex.length === n && /^[0-9A-Fa-f]+$/.test(hex) ? parseInt(hex, 16) : -1;
    if (cp >= 0 && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff)) {
      out += String.fromCodePoint(cp);
      i += 1 + n!;
    } else {
      out += c;
    }
  }
  return out;
}

/** The segments of a dotted key, decoded; at most `max` of them (the rest are not needed). */
function splitKey(text: string, max: number): string[] {
  const out: string[] = [];
  const m = DOTTED.exec(text);
  if (!m) return out;
  const re = new RegExp(KEY_PART, 'y');
  let at = 0;
  const s = m[1]!;
  while (at < s.length && out.length < max) {
    while (s[at] === ' ' || s[at] === '\t' || s[at] === '.') at++;
    re.lastIndex = at;
    const part = re.exec(s);
    if (!part) break;
    const raw = part[0];
    out.push(raw.startsWith('"') ? tomlBasicString(raw.slice(1, -1)) : raw.startsWith("'") ? raw.slice(1, -1) : raw);
    at = re.lastIndex;
  }
  return out;
}

/**
 * Where `path` can be cut to name an ancestor: before each `.` and `[` that is
 * not inside a quoted segment ("a.b" is one segment), outermost first.
 */
function cuts(path: string): number[] {
  const out: number[] = [];
  let quoted = false;
  for (let i = 0; i < path.length; i++) {
    const c = path[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if ((c === '.' || c === '[') && i > 0) out.push(i);
  }
  return out;
}

export class LineLocator {
  private readonly lines = new Map<string, number>();

  constructor(source: string) {
    this.scan(source.split(/\r?\n/));
  }

  /** Line (1-based) of the path, or of its closest located ancestor; undefined when none. */
  locate(path: string): number | undefined {
    const line = this.lines.get(path);
    if (line !== undefined) return line;
    const at = cuts(path);
    for (let i = at.length - 1; i >= 0; i--) {
      const l = this.lines.get(path.slice(0, at[i]));
      if (l !== undefined) return l;
    }
    return undefined;
  }

  private record(path: string, line: number): void {
    if (!this.lines.has(path)) this.lines.set(path, line);
  }

  private scan(lines: string[]): void {
    const arrays = new Map<string, number>(); // resolved array path -> element count
    // the current table's path and depth in segments; null: deeper than MAX_DEPTH, nothing under it is recorded
    let table: string | null = '';
    let tableDepth = 0;
    let depth = 0; // open brackets/braces of a value that spans lines
    let value: ValueScan | null = null; // the array value being scanned, for `[ {..}, {..} ]`
    let inString: '"""' | "'''" | null = null;
    for (let i = 0; i < lines.length; i++) {
      const lineNo = i + 1;
      let text = lines[i]!;
      if (inString) {
        const end = text.indexOf(inString);
        if (end < 0) continue;
        text = text.slice(end + 3);
        inString = null;
        depth += this.scanValue(text, value, lineNo);
        continue;
      }
      if (depth > 0) {
        depth += this.scanValue(text, value, lineNo);
        continue;
      }
      const t = text.trimStart();
      if (t === '' || t.startsWith('#')) continue;
      let m = ARRAY_HEADER.exec(t);
      if (m) {
        const parts = splitKey(m[1]!, MAX_DEPTH + 1);
        if (parts.length === 0 || parts.length > MAX_DEPTH) {
          this.recordPrefixes(resolve(parts.slice(0, MAX_DEPTH), arrays), lineNo);
          table = null;
          continue;
        }
        const parent = resolve(parts.slice(0, -1), arrays);
        const base = joinPath(parent, parts[parts.length - 1]!);
        const n = arrays.get(base) ?? 0;
        arrays.set(base, n + 1);
        this.record(base, lineNo);
        table = `${base}[${n}]`;
        tableDepth = parts.length;
        this.record(table, lineNo);
        continue;
      }
      m = TABLE_HEADER.exec(t);
      if (m) {
        const parts = splitKey(m[1]!, MAX_DEPTH + 1);
        table = resolve(parts.slice(0, MAX_DEPTH), arrays);
        tableDepth = parts.length;
        this.recordPrefixes(table, lineNo);
        if (parts.length > MAX_DEPTH) table = null;
        continue;
      }
      m = KEY_LINE.exec(t);
      if (!m) continue;
      // the value's path, or null when it is deeper than MAX_DEPTH (its ancestors are still recorded)
      let path: string | null = table;
      if (table !== null) {
        const room = MAX_DEPTH - tableDepth;
        const parts = splitKey(m[1]!, room + 1);
        for (const k of parts.slice(0, room)) {
          path = joinPath(path!, k);
          this.record(path, lineNo);
        }
        if (parts.length > room || parts.length === 0) path = null;
      }
      const rest = t.slice(m[0].length);
      const ml = /"""|'''/.exec(rest);
      if (ml && rest.indexOf(ml[0], ml.index + 3) < 0) {
        inString = ml[0] as '"""' | "'''";
        value = null;
        continue;
      }
      value = path === null ? null : { path, depth: 0, element: 0 };
      depth = Math.max(0, this.scanValue(rest, value, lineNo));
      if (path !== null) this.recordInline(path, rest, lineNo);
    }
  }

  /**
   * Net count of [ and { minus ] and } outside strings and comments; records the
   * line of each inline table that is an element of the scanned array.
   */
  private scanValue(text: string, v: ValueScan | null, line: number): number {
    let n = 0;
    let quote: string | null = null;
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      if (quote) {
        if (c === '\\' && quote === '"') i++;
        else if (c === quote) quote = null;
        continue;
      }
      if (c === '#') break;
      if (c === '"' || c === "'") quote = c;
      else if (c === '[' || c === '{') {
        if (v && c === '{' && v.depth === 1) {
          const el = `${v.path}[${v.element++}]`;
          this.record(el, line);
          this.recordInline(el, text.slice(i), line);
        }
        n++;
        if (v) v.depth++;
      } else if (c === ']' || c === '}') {
        n--;
        if (v) v.depth--;
      }
    }
    return n;
  }

  private recordPrefixes(path: string, line: number): void {
    for (const cut of cuts(path)) if (path[cut] === '.') this.record(path.slice(0, cut), line);
    this.record(path, line);
  }

  /** Keys of a one-line inline table (`timeouts = { connect = "3s" }`) share its line. */
  private recordInline(path: string, value: string, line: number): void {
    const v = value.trim();
    if (!v.startsWith('{')) return;
    const body = v.slice(0, v.indexOf('}') < 0 ? v.length : v.indexOf('}'));
    const keyRe = /(?:^\{|,)\s*([A-Za-z0-9_-]+)\s*=/g;
    for (let m = keyRe.exec(body); m; m = keyRe.exec(body)) this.record(joinPath(path, m[1]!), line);
  }
}

/** Header segments to a path, entering the last element of any array of tables on the way. */
function resolve(parts: string[], arrays: Map<string, number>): string {
  let path = '';
  for (const p of parts) {
    path = joinPath(path, p);
    const n = arrays.get(path);
    if (n !== undefined) path = `${path}[${n - 1}]`;
  }
  return path;
}

interface ValueScan {
  path: string;
  depth: number;
  element: number;
}
