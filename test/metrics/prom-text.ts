// A small strict parser of the Prometheus text exposition format (0.0.4), enough
// to reject what Prometheus would reject: bad names, bad escapes, samples of an
// undeclared family, duplicate series, non-cumulative histogram buckets.

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  name: string;
  type: string;
  help: string;
  samples: PromSample[];
}

const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parsePromText(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  const seen = new Set<string>();
  const lines = text.split('\n');
  if (lines[lines.length - 1] !== '') throw new Error('exposition must end with a newline');
  lines.forEach((line, i) => {
    const at = `line ${i + 1}`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return; // other comments are allowed
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!METRIC.test(name)) throw new Error(`${at}: bad metric name ${name}`);
      let f = families.get(name);
      if (!f) families.set(name, (f = { name, type: 'untyped', help: '', samples: [] }));
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`${at}: bad type ${rest}`);
        if (f.samples.length > 0) throw new Error(`${at}: TYPE after samples of ${name}`);
        f.type = rest;
      } else {
        f.help = rest;
      }
      return;
    }
    const s = parseSample(line, at);
    const key = s.name + JSON.stringify(Object.entries(s.labels).sort());
    if (seen.has(key)) throw new Error(`${at}: duplicate series ${line}`);
    seen.add(key);
    const fam = familyOf(families, s.name);
    if (!fam) throw new Error(`${at}: sample ${s.name} has no # TYPE`);
    if (fam.type === 'counter' && (s.value < 0 || Number.isNaN(s.value)))
      throw new Error(`${at}: counter ${s.name} is ${s.value}`);
    fam.samples.push(s);
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function familyOf(families: Map<string, PromFamily>, name: string): PromFamily | undefined {
  const direct = families.get(name);
  if (direct) return direct;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const f = families.get(name.slice(0, -suffix.length));
      if (f && (f.type === 'histogram' || f.type === 'summary')) return f;
    }
  }
  return undefined;
}

function parseSample(line: string, at: string): PromSample {
  let i = 0;
  while (i < line.length && line[i] !== '{' && line[i] !== ' ') i++;
  const name = line.slice(0, i);
  if (!METRIC.test(name)) throw new Error(`${at}: bad metric name ${JSON.stringify(name)}`);
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    while (line[i] !== '}') {
      let j = i;
      while (j < line.length && line[j] !== '=') j++;
      const lname = line.slice(i, j);
      if (!LABEL.test(lname)) throw new Error(`${at}: bad label name ${JSON.stringify(lname)}`);
      if (line[j + 1] !== '"') throw new Error(`${at}: label value must be quoted`);
      j += 2;
      let value = '';
      for (;;) {
        const c = line[j];
        if (c === undefined) throw new Error(`${at}: unterminated label value`);
        if (c === '"') break;
        if (c === '\\') {
          const n = line[j + 1];
          if (n === '\\') value += '\\';
          else if (n === '"') value += '"';
          else if (n === 'n') value += '\n';
          else throw new Error(`${at}: bad escape \\${n}`);
          j += 2;
          continue;
        }
        value += c;
        j++;
      }
      if (Object.hasOwn(labels, lname)) throw new Error(`${at}: duplicate label ${lname}`);
      labels[lname] = value;
      j++;
      if (line[j] === ',') j++;
      else if (line[j] !== '}') throw new Error(`${at}: expected , or } after a label`);
      i = j;
    }
    i++;
  }
  if (line[i] !== ' ') throw new Error(`${at}: expected a space before the value`);
  const parts = line.slice(i + 1).split(' ');
  if (parts.length < 1 || parts.length > 2) throw new Error(`${at}: expected value [timestamp]`);
  const value = parseValue(parts[0]!, at);
  if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new Error(`${at}: bad timestamp`);
  return { name, labels, value };
}

function parseValue(s: string, at: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`${at}: bad value ${JSON.stringify(s)}`);
  return Number(s);
}

function checkHistogram(f: PromFamily): void {
  const groups = new Map<string, { buckets: [number, number][]; count?: number; sum?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { buckets: [] }));
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new Error(`${f.name}: bucket without le`);
      g.buckets.push([le === '+Inf' ? Infinity : Number(le), s.value]);
    } else if (s.name === `${f.name}_count`) g.count = s.value;
    else if (s.name === `${f.name}_sum`) g.sum = s.value;
    else throw new Error(`${f.name}: unexpected series ${s.name}`);
  }
  for (const [key, g] of groups) {
    const b = g.buckets.sort((x, y) => x[0] - y[0]);
    if (b.length === 0 || b[b.length - 1]![0] !== Infinity) throw new Error(`${f.name}${key}: no +Inf bucket`);
    for (let k = 1; k < b.length; k++)
      if (b[k]![1] < b[k - 1]![1]) throw new Error(`${f.name}${key}: buckets not cumulative`);
    if (g.count !== b[b.length - 1]![1])
      throw new Error(`${f.name}${key}: _count ${g.count} != +Inf bucket ${b[b.length - 1]![1]}`);
    if (g.sum === undefined) throw new Error(`${f.name}${key}: no _sum`);
  }
}

/** The value of one series, or undefined. */
export function sampleValue(
  fams: Map<string, PromFamily>,
  name: string,
  labels: Record<string, string>,
): number | undefined {
  for (const f of fams.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      const keys = Object.keys(labels);
      if (keys.length === Object.keys(s.labels).length && keys.every((k) => s.labels[k] === labels[k])) return s.value;
    }
  }
  return undefined;
}

/** Every series name in the scrape. */
export function seriesNames(fams: Map<string, PromFamily>): Set<string> {
  const out = new Set<string>();
  for (const f of fams.values()) for (const s of f.samples) out.add(s.name);
  return out;
}
