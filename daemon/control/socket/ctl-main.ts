// The body of `netmon ctl` (cli/ctl.ts), loaded only when that command runs.
import { parseDuration } from '../../config/duration.js';
import { NetmonError } from '../../errors.js';
import { helpText, resolveWords } from './commands.js';
import { ControlClient, subscribe } from './client.js';
import { eventLine, snapshotLine } from './format.js';
import { chooseSocket, type SocketChoice } from './socket-path.js';

const EXIT_ERROR_REPLY = 1;
const EXIT_UNREACHABLE = 2;
/** workers confirm a reload within 10 s (supervisor); the reply comes after that */
const RELOAD_TIMEOUT_MS = 15_000;

export interface CtlOptions {
  words: string[];
  /** --socket; when absent, chosen by chooseSocket() */
  socket?: string;
  json: boolean;
  timeout: string;
  /** --fleet: `set state` / `set weight` for every instance watching the backend's etcd prefix */
  fleet?: boolean;
}

function printError(e: unknown, json: boolean, socket?: SocketChoice): void {
  const err = e instanceof NetmonError ? e : new NetmonError('E_INTERNAL', String(e));
  if (json) process.stdout.write(JSON.stringify({ ok: false, error: err.toJSON() }) + '\n');
  // name the socket that was tried and why that one, so a wrong default is obvious
  const where = socket && exitFor(err) === EXIT_UNREACHABLE ? ` (socket ${socket.path}, from ${socket.from})` : '';
  process.stderr.write(`netmon ctl: error ${err.code}: ${err.message}${where}\n`);
}

function exitFor(e: unknown): number {
  return e instanceof NetmonError && (e.code === 'E_CONTROL_CONNECT' || e.code === 'E_CONTROL_TIMEOUT')
    ? EXIT_UNREACHABLE
    : EXIT_ERROR_REPLY;
}

export async function runCtl(o: CtlOptions): Promise<number> {
  if (o.words.length === 0) {
    process.stdout.write(
      `usage: netmon ctl [--socket PATH] [--json] [--timeout 5s] [--fleet] <command...>\n\ncommands:\n${helpText('  ')}\n`,
    );
    return 0;
  }
  const t = parseDuration(o.timeout);
  if (!t.ok || t.ms === 0) {
    process.stderr.write(`netmon ctl: --timeout: ${t.ok ? 'must be more than 0' : t.reason}\n`);
    return EXIT_ERROR_REPLY;
  }
  let resolved;
  try {
    resolved = resolveWords(o.words);
    if (o.fleet) {
      if (!resolved.command.args.some((a) => a.name === 'scope')) {
        throw new NetmonError(
          'E_BAD_ARGUMENT',
          `--fleet applies to set state and set weight, not to ${resolved.command.name}`,
        );
      }
      resolved = resolveWords([...o.words, 'fleet']);
    }
  } catch (e) {
    printError(e, o.json);
    return EXIT_ERROR_REPLY;
  }
  const { command, args } = resolved;
  if (command.kind === 'quit') return 0;
  const socket = chooseSocket(o.socket);
  if (command.kind === 'subscribe') return streamUntilInterrupted(o, socket, args.interval as number);

  let client: ControlClient | undefined;
  try {
    client = await ControlClient.connect(socket.path, { timeoutMs: t.ms });
    // a reload answers when it is done: give it longer than a query
    // (so does a fleet write: etcd's timeouts, then this instance applying it)
    const timeoutMs = command.id === 'reload' || o.fleet ? Math.max(t.ms, RELOAD_TIMEOUT_MS) : t.ms;
    const data = await client.request(command.id, { ...args }, { timeoutMs });
    const out = o.json ? JSON.stringify({ ok: true, data }) : command.text(data, args);
    process.stdout.write(out.endsWith('\n') ? out : out + '\n');
    return command.exitCode(data);
  } catch (e) {
    printError(e, o.json, socket);
    return exitFor(e);
  } finally {
    client?.close();
  }
}

/** `netmon ctl subscribe`: one line per snapshot and event until Ctrl-C or the daemon goes away. */
function streamUntilInterrupted(o: CtlOptions, socket: SocketChoice, intervalMs: number): Promise<number> {
  return new Promise((resolve) => {
    const sub = subscribe(socket.path, {
      intervalMs,
      reconnect: false,
      onSnapshot: (s) =>
        process.stdout.write((o.json ? JSON.stringify({ type: 'snapshot', snapshot: s }) : snapshotLine(s)) + '\n'),
      onEvent: (e) =>
        process.stdout.write((o.json ? JSON.stringify({ type: 'event', event: e }) : eventLine(e)) + '\n'),
      onDisconnect: (e) => {
        printError(e, false, socket);
        process.off('SIGINT', stop);
        resolve(exitFor(e));
      },
    });
    const stop = (): void => {
      sub.close();
      resolve(0);
    };
    process.once('SIGINT', stop);
  });
}
