// The /_sim control requests shared by an HTTP backend's own route and the
// control endpoint of raw TCP backends: JSON replies, and a POST that changes
// (or resets) one backend's behaviour, its body bounded.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NetmonError } from '../daemon/errors.js';
import { parsePatch, type Behaviour, type BehaviourPatch } from './behaviour.js';

const MAX_SIM_BODY = 64 * 1024;

/** What a /_sim POST acts on. */
export interface SimTarget {
  setBehaviour(patch: BehaviourPatch): Promise<Behaviour>;
  reset(): Promise<Behaviour>;
}

export function replyJson(res: ServerResponse, status: number, data: unknown): void {
  const body = JSON.stringify(data);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** A bad request is the caller's (400); anything else is ours (500). */
function replyError(res: ServerResponse, err: unknown): void {
  if (err instanceof NetmonError) replyJson(res, 400, { error: err.toJSON() });
  else replyJson(res, 500, { error: { code: 'E_INTERNAL', message: String(err) } });
}

/**
 * POST /_sim (a JSON behaviour patch) or, with `reset`, POST /_sim/reset:
 * answers with `describe()` once the change is in effect.
 */
export function postSim(
  req: IncomingMessage,
  res: ServerResponse,
  target: SimTarget,
  reset: boolean,
  describe: () => unknown,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size <= MAX_SIM_BODY) chunks.push(c);
  });
  req.on('end', () => {
    const fail = (err: unknown): void => replyError(res, err);
    if (size > MAX_SIM_BODY) {
      replyJson(res, 413, { error: { code: 'E_LINE_TOO_LONG', message: `control body over ${MAX_SIM_BODY} bytes` } });
      return;
    }
    if (reset) {
      target.reset().then(() => replyJson(res, 200, describe()), fail);
      return;
    }
    let patch: BehaviourPatch;
    try {
      patch = parsePatch(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'));
    } catch (err) {
      fail(err instanceof SyntaxError ? new NetmonError('E_BAD_REQUEST', 'the body is not valid JSON') : err);
      return;
    }
    target.setBehaviour(patch).then(() => replyJson(res, 200, describe()), fail);
  });
}
