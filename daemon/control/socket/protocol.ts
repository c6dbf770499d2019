// Control socket framing: one request per line. A line starting with `{` is a
// JSON request and gets one JSON line back; any other line is a text command
// and gets text back, closed by an empty line so `socat` users and scripts know
// where a reply ends.
import { NetmonError, type ErrorPayload } from '../../errors.js';
import { sanitizeBlock } from './text-table.js';

export type RequestId = string | number | null;

export type Request =
  { json: true; id: RequestId; cmd: string; args: Record<string, unknown> } | { json: false; words: string[] };

const MAX_ID_LENGTH = 128;

/** Whether a raw line is (meant as) JSON: decides the reply format even for a broken line. */
export function isJsonLine(line: string): boolean {
  return line.trimStart().startsWith('{');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The id of a JSON line, if it can be recovered; for error replies to broken requests. */
function idOf(v: unknown): RequestId {
  if (!isRecord(v)) return null;
  const id = v.id;
  if (typeof id === 'number' && Number.isFinite(id)) return id;
  if (typeof id === 'string' && id.length <= MAX_ID_LENGTH) return id;
  return null;
}

/** Throws NetmonError E_BAD_REQUEST, carrying the id when one was readable. */
export class BadRequest extends NetmonError {
  readonly id: RequestId;
  constructor(id: RequestId, message: string) {
    super('E_BAD_REQUEST', message);
    this.id = id;
  }
}

export function parseRequest(line: string): Request {
  if (!isJsonLine(line)) return { json: false, words: line.trim().split(/\s+/) };
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    throw new BadRequest(null, `malformed JSON: ${(e as Error).message}`);
  }
  if (!isRecord(v)) throw new BadRequest(null, 'a JSON request must be an object');
  const id = idOf(v);
  if (v.id !== undefined && v.id !== null && id === null) {
    throw new BadRequest(null, `"id" must be a number or a string of at most ${MAX_ID_LENGTH} characters`);
  }
  if (typeof v.cmd !== 'string' || v.cmd.trim() === '') throw new BadRequest(id, '"cmd" must be a non-empty string');
  if (v.args !== undefined && v.args !== null && !isRecord(v.args)) {
    throw new BadRequest(id, '"args" must be an object');
  }
  for (const k of Object.keys(v)) {
    if (k !== 'id' && k !== 'cmd' && k !== 'args')
      throw new BadRequest(id, `unknown request field ${JSON.stringify(k.slice(0, 64))}`);
  }
  return { json: true, id, cmd: v.cmd, args: isRecord(v.args) ? v.args : {} };
}

export function jsonOk(id: RequestId, data: unknown): string {
  return JSON.stringify({ id, ok: true, data: data ?? null }) + '\n';
}

export function jsonError(id: RequestId, error: ErrorPayload): string {
  return JSON.stringify({ id, ok: false, error: { code: error.code, message: error.message } }) + '\n';
}

export function textOk(text: string): string {
  const block = sanitizeBlock(text);
  return block === '' ? '\n' : block + '\n\n';
}

export function textError(error: ErrorPayload): string {
  return sanitizeBlock(`error ${error.code}: ${error.message}`) + '\n\n';
}

export function toPayload(e: unknown): ErrorPayload {
  if (e instanceof NetmonError) return { code: e.code, message: e.message };
  return { code: 'E_INTERNAL', message: e instanceof Error ? e.message : String(e) };
}
