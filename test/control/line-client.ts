// Raw control-socket conversations for tests: send exact bytes, read what the
// daemon answers (one JSON line, or a text block ended by an empty line).
import net from 'node:net';

export interface RawReply {
  text: string;
  /** the daemon closed the connection */
  closed: boolean;
}

/** Sends `payload` on a fresh connection and collects replies until `done` says so, or the socket closes. */
export function converse(
  path: string,
  payload: string | Buffer,
  done: (text: string) => boolean = (t) => t.endsWith('\n'),
  timeoutMs = 5000,
): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ path });
    let text = '';
    let finished = false;
    const finish = (closed: boolean): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(() => {
      finished = true;
      s.destroy();
      reject(
        new Error(
          `no complete reply within ${timeoutMs} ms to ${JSON.stringify(String(payload).slice(0, 80))}; got ${JSON.stringify(text.slice(0, 200))}`,
        ),
      );
    }, timeoutMs);
    s.setEncoding('utf8');
    s.on('connect', () => s.write(payload));
    s.on('data', (d: string) => {
      text += d;
      if (done(text)) finish(false);
    });
    s.on('error', () => finish(true));
    s.on('close', () => finish(true));
  });
}

export interface JsonReplyLine {
  id: unknown;
  ok: boolean;
  data?: unknown;
  error?: { code: string; message: string };
}

/** One JSON request line, one JSON reply line. */
export async function jsonRequest(path: string, req: unknown): Promise<JsonReplyLine> {
  const r = await converse(path, JSON.stringify(req) + '\n');
  return JSON.parse(r.text.split('\n')[0]!) as JsonReplyLine;
}

/** One text command; the reply block without its closing empty line. */
export async function textRequest(path: string, line: string): Promise<string> {
  const r = await converse(path, line + '\n', (t) => t.endsWith('\n\n') || t === '\n');
  return r.text.replace(/\n+$/, '');
}
