// One request line to what it asks for: the command and its arguments, or the
// error to answer with. The control connection and the control-request fuzz
// target both decode through here, so the fuzzer checks the code that runs.
import { resolveJson, resolveWords, type Resolved } from './commands.js';
import { BadRequest, isJsonLine, parseRequest, type RequestId } from './protocol.js';

/**
 * A decoded request line. `json`: the line is a JSON request (answer in JSON);
 * `id`: its id when it could be read (null for a text line or an unreadable id).
 */
export type DecodedLine = { json: boolean; id: RequestId } & (
  { ok: true; resolved: Resolved } | { ok: false; error: unknown }
);

/**
 * Parses and resolves one request line (JSON or words). Never throws: a bad
 * line comes back with its error, a NetmonError (E_BAD_REQUEST,
 * E_UNKNOWN_COMMAND, E_BAD_ARGUMENT); anything else is a bug (answered as E_INTERNAL).
 */
export function decodeLine(line: string): DecodedLine {
  const json = isJsonLine(line);
  let id: RequestId = null;
  try {
    const req = parseRequest(line);
    if (!req.json) return { json, id, ok: true, resolved: resolveWords(req.words) };
    id = req.id;
    return { json, id, ok: true, resolved: resolveJson(req.cmd, req.args) };
  } catch (error) {
    if (error instanceof BadRequest) id = error.id;
    return { json, id, ok: false, error };
  }
}
