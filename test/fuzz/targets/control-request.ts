// Control requests: one line, text (`set weight web/b1 5`) or JSON
// (`{"id":1,"cmd":"set-weight","args":{...}}`), parsed, resolved against the
// command table and run against a ControlContext, as the connection does.
// Invariants: parsing and resolving throw only NetmonError; a bad request gets
// one of the client's codes (E_BAD_REQUEST, E_UNKNOWN_COMMAND, E_BAD_ARGUMENT,
// E_NOT_FOUND), never E_INTERNAL; a JSON reply is one JSON line carrying the
// request's id when it had a readable one; arguments of the wrong type, however
// deeply nested, are E_BAD_ARGUMENT; a well-formed request is answered.
import { decodeLine } from '../../../daemon/control/socket/decode.js';
import { jsonError, jsonOk, textOk, toPayload, type RequestId } from '../../../daemon/control/socket/protocol.js';
import { NetmonError } from '../../../daemon/errors.js';
import { FakeContext } from '../../control/fake-context.js';
import { tokens } from '../mutate.js';
import type { Rng } from '../rng.js';
import { show, type FuzzTarget } from '../target.js';

const CLIENT_CODES = new Set(['E_BAD_REQUEST', 'E_UNKNOWN_COMMAND', 'E_BAD_ARGUMENT', 'E_NOT_FOUND']);
const MAX_LINE = 64 * 1024;

type Expect = 'ok' | 'E_BAD_REQUEST' | 'E_UNKNOWN_COMMAND' | 'E_BAD_ARGUMENT' | 'E_NOT_FOUND';

/** A fresh context now and then: a mutating command changes it, and it records every call. */
let ctx = new FakeContext();
let uses = 0;
function context(): FakeContext {
  if (++uses % 1000 === 0) ctx = new FakeContext();
  return ctx;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The id the reply must carry: the request's, when it is one the protocol accepts. */
function idOf(line: string): RequestId | undefined {
  try {
    const v = JSON.parse(line) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
    const id = (v as { id?: unknown }).id;
    if (typeof id === 'number' && Number.isFinite(id)) return id;
    if (typeof id === 'string' && id.length <= 128) return id;
    return null;
  } catch {
    return null;
  }
}

/** The reply the connection would write, and its outcome; throws what the parser threw if not a NetmonError. */
async function answer(line: string): Promise<{ code: string | null; reply: string; json: boolean }> {
  const decoded = decodeLine(line);
  const { json, id } = decoded;
  if (!decoded.ok) {
    if (!(decoded.error instanceof NetmonError)) throw decoded.error;
    const p = toPayload(decoded.error);
    return { code: p.code, reply: json ? jsonError(id, p) : p.message, json };
  }
  const { command, args } = decoded.resolved;
  if (command.kind !== 'request') return { code: null, reply: json ? jsonOk(id, null) : '', json };
  try {
    let data = command.run(context(), args);
    if (data instanceof Promise) data = await data;
    return { code: null, reply: json ? jsonOk(id, data) : textOk(command.text(data, args)), json };
  } catch (e) {
    const p = toPayload(e);
    return { code: p.code, reply: json ? jsonError(id, p) : p.message, json };
  }
}

async function check(input: Buffer, expect?: Expect): Promise<string | null> {
  let line: string;
  try {
    line = utf8.decode(input);
  } catch {
    return null; // the connection answers E_BAD_REQUEST before parsing
  }
  // the framer hands over lines without their LF
  const lines = line.split('\n');
  if (lines.length > 1) {
    for (const l of lines) {
      const wrong = await checkLine(l);
      if (wrong !== null) return wrong;
    }
    return null;
  }
  return checkLine(line, expect);
}

async function checkLine(line: string, expect?: Expect): Promise<string | null> {
  if (line.trim() === '') return null; // blank lines are answered by nothing
  const r = await answer(line);
  if (r.code !== null && !CLIENT_CODES.has(r.code))
    return `${r.code} for ${show(line.slice(0, 120))}: ${r.reply.slice(0, 200)}`;
  if (r.json) {
    const reply = JSON.parse(r.reply) as { id: unknown; ok: boolean };
    const id = idOf(line);
    if (r.reply.indexOf('\n') !== r.reply.length - 1) return 'a JSON reply of more than one line';
    if (id !== null && id !== undefined && reply.id !== id)
      return `reply id ${show(reply.id)} for request id ${show(id)}`;
  }
  if (expect !== undefined && (r.code ?? 'ok') !== expect)
    return `expected ${expect}, got ${r.code ?? 'ok'} for ${show(line.slice(0, 120))}`;
  return null;
}

// --- generation ---

const NAMES = ['web', 'db', 'web/b1', 'db/b2', 'nope', 'web/b9', ''];

/** An array or object nested up to as deep as a 64 KiB line allows (4,500 levels once got E_INTERNAL). */
function nested(rng: Rng): string {
  const deep = rng.chance(0.2);
  if (rng.chance(0.5)) {
    const depth = deep ? rng.range(4000, 32_000) : rng.range(1, 100);
    return '['.repeat(depth) + ']'.repeat(depth);
  }
  const depth = deep ? rng.range(4000, 10_000) : rng.range(1, 100);
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

function argValue(rng: Rng): string {
  switch (rng.int(6)) {
    case 0:
      return JSON.stringify(rng.pick(NAMES));
    case 1:
      return String(rng.range(-5, 300));
    case 2:
      return JSON.stringify(rng.pick(['ready', 'drain', 'maint', 'round_robin', 'least_connections', 'sideways']));
    case 3:
      return nested(rng);
    case 4:
      return rng.pick(['null', 'true', '1.5', '1e400', '"5"', '{}', '[]']);
    default:
      return JSON.stringify(rng.chars(rng.size(80), 'abc/.-_:'));
  }
}

const VALID: readonly [string, Record<string, unknown>][] = [
  ['show-info', {}],
  ['show-stats', {}],
  ['show-backends', { pool: 'web' }],
  ['show-events', { limit: 5 }],
  ['set-weight', { backend: 'web/b1', weight: 7 }],
  ['set-state', { backend: 'db/b2', state: 'drain' }],
  ['set-algorithm', { pool: 'web', algorithm: 'least_connections' }],
  ['help', {}],
];
const CMDS = [
  'show-info',
  'show-backends',
  'set-weight',
  'set-state',
  'set-algorithm',
  'enable-listener',
  'show events',
  'frobnicate',
];
const ARGS = ['pool', 'backend', 'weight', 'state', 'algorithm', 'listener', 'limit', 'wieght'];

function structured(rng: Rng): { input: Buffer; expect?: Expect } {
  const r = rng.int(6);
  if (r === 0) {
    const [cmd, args] = rng.pick(VALID);
    return { input: Buffer.from(JSON.stringify({ id: rng.int(1e6), cmd, args })), expect: 'ok' };
  }
  if (r === 1) {
    // an argument of the wrong type, deeply nested: refused as an argument, whatever its depth
    const [cmd, args] = rng.pick(VALID.filter(([, a]) => Object.keys(a).length > 0));
    const key = rng.pick(Object.keys(args));
    const rest = Object.entries(args)
      .filter(([k]) => k !== key)
      .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
    const line = `{"id":1,"cmd":"${cmd}","args":{${[...rest, `"${key}":${nested(rng)}`].join(',')}}}`;
    return { input: Buffer.from(line), expect: line.length <= MAX_LINE ? 'E_BAD_ARGUMENT' : undefined };
  }
  if (r === 2) {
    const args = Array.from({ length: rng.int(3) }, () => `${JSON.stringify(rng.pick(ARGS))}:${argValue(rng)}`);
    const id = rng.pick(['1', '"x"', 'null', '{}', '1e999', JSON.stringify('i'.repeat(rng.int(200)))]);
    const line = `{"id":${id},"cmd":${JSON.stringify(rng.pick(CMDS))},"args":{${args.join(',')}}}`;
    return { input: Buffer.from(line) };
  }
  // text commands: words of the table, HAProxy's spellings, arguments right and wrong
  const words = [
    rng.pick(['show', 'set', 'enable', 'disable', 'reload', 'help', 'quit', 'subscribe', 'SHOW', 'frob']),
    rng.pick(['info', 'stats', 'backends', 'pools', 'weight', 'state', 'server', 'listener', 'backend', 'events', '']),
    ...Array.from({ length: rng.int(4) }, () => rng.pick([...NAMES, '5', '999', 'drain', 'state', 'weight', '-1'])),
  ];
  const sep = (): string => rng.pick([' ', '  ', '\t']);
  return { input: Buffer.from(words.join(sep()) + (rng.chance(0.2) ? '\r' : '')) };
}

export const controlRequestTarget: FuzzTarget<Expect> = {
  name: 'control-request',
  title: 'control requests',
  maxLength: MAX_LINE,
  dictionary: tokens([
    '{',
    '}',
    '"id":',
    '"cmd":',
    '"args":',
    '"show-info"',
    '"set-weight"',
    '"backend":',
    '"web/b1"',
    '[',
    ']',
    ',',
    ':',
    '"',
    '\\u0000',
    'null',
    '1e999',
  ]),
  structured,
  check,
};
