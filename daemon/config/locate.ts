// Maps key paths ("pool.web.backend[2].weight") to the line that defines them, so
// semantic errors point at a line like syntax errors do. A best-effort scan of
// table headers and `key =` lines; a path it does not know falls back to its
// closest known ancestor (usually the table header).

const BARE = /^[A-Za-z0-9_-]+$/;
const KEY_PART = String.raw`(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')`;
const DOTTED = new RegExp(String.raw`^(${KEY_PART}(?:\s*\.\s*${KEY_PART})*)`);
const ARRAY_HEADER = new RegExp(String.raw`^\[\[\s*(${KEY_PART}(?:\s*\.\s*${KEY_PART})*)\s*\]\]`);
const TABLE_HEADER = new RegExp(String.raw`^\[\s*(${KEY_PART}(?:\s*\.\s*${KEY_PART})*)\s*\]`);
const KEY_LINE = new RegExp(String.raw`^(${KEY_PART}(?:\s*\.\s*${KEY_PART})*)\s*=`);

/** One path segment as it appears in messages: bare when possible, else quoted. */
function segment(name: string): string {
  return BARE.test(name) ? name : JSON.stringify(name);
}

export function joinPath(parent: string, key: string): string {
  return parent === '' ? segment(key) : `${parent}.${segment(key)}`;
}

/**
 * Key paths deeper than this are located by their first MAX_KEY_PARTS segments:
 * no config key is nearly this deep, and a dotted key of thousands of segments
 * must not cost quadratic time.
 */
const MAX_KEY_PARTS = 32;

/** The segments of a (dotted) TOML key, quotes removed and escapes decoded; at most MAX_KEY_PARTS. */
function splitKey(text: string): string[] {
  const out: string[] = [];
  const m = DOTTED.exec(text);
  if (!m) return out;
  const re = new RegExp(KEY_PART, 'y');
  let at = 0;
  const s = m[1]!;
  while (at < s.length && out.length < MAX_KEY_PARTS) {
    while (s[at] === ' ' || s[at] === '\t' || s[at] === '.') at++;
    re.lastIndex = at;
    const part = re.exec(s);
    if (!part) break;
    const raw = part[0];
    out.push(raw.startsWith('"') ? unescapeBasic(raw.slice(1, -1)) : raw.startsWith("'") ? raw.slice(1, -1) : raw);
    at = re.lastIndex;
  }
  return out;
}

const ESCAPES: Record<string, string> = {
  b: '\b',
  t: '\t',
  n: '\n',
  f: '\f',
  r: '\r',
  e: '\x1b',
  '"': '"',
  '\\': '\\',
};
const ESCAPE = /\\(?:([btnfre"\\])|x([0-9A-Fa-f]{2})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8}))/g;

/**
 * The text of a TOML basic string body (TOML 1.1 escapes: \b \t \n \f \r \e \" \\
 * \xHH \uHHHH \UHHHHHHHH). Never throws: the TOML parser has already accepted the
 * file, and what it would refuse is left as written (the key is then not located).
 */
function unescapeBasic(body: string): string {
  return body.replace(ESCAPE, (all, simple?: string, x?: string, u?: string, U?: string) => {
    if (simple !== undefined) return ESCAPES[simple]!;
    const code = parseInt((x ?? u ?? U)!, 16);
    return code <= 0x10ffff && (code < 0xd800 || code > 0xdfff) ? String.fromCodePoint(code) : all;
  });
}

export class LineLocator {
  private readonly lines = new Map<string, number>();

  constructor(source: string) {
    this.scan(source.split(/\r?\n/));
  }

  /** Line (1-based) of the path, or of its closest located ancestor; undefined when none. */
  locate(path: string): number | undefined {
    let p = path;
    for (;;) {
      const line = this.lines.get(p);
      if (line !== undefined) return line;
      const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
      if (cut <= 0) return undefined;
      p = p.slice(0, cut);
    }
  }

  private record(path: string, line: number): void {
    if (!this.lines.has(path)) this.lines.set(path, line);
  }

  private scan(lines: string[]): void {
    const arrays = new Map<string, number>(); // resolved array path -> element count
    let table = '';
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
        const parts = splitKey(m[1]!);
        const parent = resolve(parts.slice(0, -1), arrays);
        const base = joinPath(parent, parts[parts.length - 1]!);
        const n = arrays.get(base) ?? 0;
        arrays.set(base, n + 1);
        this.record(base, lineNo);
        table = `${base}[${n}]`;
        this.record(table, lineNo);
        continue;
      }
      m = TABLE_HEADER.exec(t);
      if (m) {
        table = resolve(splitKey(m[1]!), arrays);
        this.recordPrefixes(table, lineNo);
        continue;
      }
      m = KEY_LINE.exec(t);
      if (!m) continue;
      let path = table;
      for (const k of splitKey(m[1]!)) {
        path = joinPath(path, k);
        this.record(path, lineNo);
      }
      const rest = t.slice(m[0].length);
      const ml = /"""|'''/.exec(rest);
      if (ml && rest.indexOf(ml[0], ml.index + 3) < 0) {
        inString = ml[0] as '"""' | "'''";
        value = null;
        continue;
      }
      value = { path, depth: 0, element: 0 };
      depth = Math.max(0, this.scanValue(rest, value, lineNo));
      this.recordInline(path, rest, lineNo);
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
    let at = 0;
    for (;;) {
      const dot = path.indexOf('.', at);
      if (dot < 0) break;
      this.record(path.slice(0, dot), line);
      at = dot + 1;
    }
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
