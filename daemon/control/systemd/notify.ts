// sd_notify(3) for a Node process: READY=1, RELOADING=1, STOPPING=1 and STATUS=
// lines sent as datagrams to $NOTIFY_SOCKET. A no-op outside systemd.
//
// Node has no AF_UNIX datagram sockets, so one small relay child is started once
// and kept for the daemon's lifetime: it reads messages from a pipe and sends each
// as one datagram. It stays alive, so systemd can always attribute its messages to
// the unit (a one-shot sender that has already exited cannot be attributed; that
// race is why `systemd-notify` per message is not used). The unit therefore says
// NotifyAccess=all, and every message carries MAINPID= so systemd keeps tracking
// the node process. docs/systemd.md explains the choice.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { basename, join } from 'node:path';
import { log } from '../../log.js';

/** python3: reads NUL-terminated messages, one datagram each; abstract addresses start with "@". */
const PY_RELAY = [
  'import os, socket, sys',
  // inherited listening sockets (socket activation) must not be kept open by the relay
  'os.closerange(3, 65536)',
  'a = os.environ["NETMON_NOTIFY_TARGET"]',
  'a = "\\0" + a[1:] if a.startswith("@") else a',
  's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
  'buf = b""',
  'while True:',
  '    chunk = os.read(0, 65536)',
  '    if not chunk: break',
  '    buf += chunk',
  '    while b"\\0" in buf:',
  '        msg, buf = buf.split(b"\\0", 1)',
  '        try: s.sendto(msg, a)',
  '        except OSError as e: sys.stderr.write("netmon notify relay: %s\\n" % e)',
].join('\n');

interface Relay {
  child: ChildProcess;
  terminator: string;
  /**
   * socat has no framing: two messages in the pipe at once would become one
   * datagram, and systemd would read READY=1 and RELOADING=1 together. So its
   * messages are spaced out; python3 splits on NUL and needs no spacing.
   */
  spacingMs: number;
  queue: string[];
  busy: boolean;
}

const SOCAT_SPACING_MS = 50;

function deliver(r: Relay): void {
  if (r.busy) return;
  const msg = r.queue.shift();
  if (msg === undefined || r.child.stdin!.destroyed) return;
  if (r.spacingMs === 0) {
    r.child.stdin!.write(msg);
    deliver(r);
    return;
  }
  r.busy = true;
  r.child.stdin!.write(msg, () => {
    setTimeout(() => {
      r.busy = false;
      deliver(r);
    }, r.spacingMs).unref();
  });
}

export interface Notifier {
  /** the listeners are open (or a reload finished); `status` is shown by `systemctl status` */
  ready(status: string): void;
  reloading(): void;
  stopping(status?: string): void;
  status(text: string): void;
  /** closes the relay once its queued messages are sent */
  close(): void;
  readonly enabled: boolean;
}

/** A message line may not contain a newline: it would start another assignment. */
function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').slice(0, 400);
}

/** The first of `names` found as an executable on PATH. */
function findOnPath(names: readonly string[], path = process.env.PATH ?? ''): string | null {
  for (const name of names) {
    for (const dir of path.split(':')) {
      if (!dir) continue;
      try {
        accessSync(join(dir, name), constants.X_OK);
        return join(dir, name);
      } catch {
        // not here
      }
    }
  }
  return null;
}

function startRelay(target: string): Relay | null {
  const exe = findOnPath(['python3', 'socat']);
  if (!exe) return null;
  const python = basename(exe) === 'python3';
  const addr = target.startsWith('@') ? `ABSTRACT-SENDTO:${target.slice(1)}` : `UNIX-SENDTO:${target}`;
  // socat sends what one read() returns as one datagram (see Relay.spacingMs)
  const args = python ? ['-c', PY_RELAY] : ['-u', 'STDIN', addr];
  const child = spawn(exe, args, {
    env: { ...process.env, NETMON_NOTIFY_TARGET: target },
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  child.on('error', (err) => log.warn('systemd notify relay failed', { relay: exe, err }));
  child.stdin!.on('error', () => undefined);
  // the relay must not keep the daemon alive at exit
  child.unref();
  return { child, terminator: python ? '\0' : '\n', spacingMs: python ? 0 : SOCAT_SPACING_MS, queue: [], busy: false };
}

function createNotifier(env: NodeJS.ProcessEnv = process.env): Notifier {
  const target = env.NOTIFY_SOCKET;
  if (!target) {
    const nop = (): void => {};
    return { ready: nop, reloading: nop, stopping: nop, status: nop, close: nop, enabled: false };
  }
  let relay: Relay | null | undefined;
  const send = (fields: string[]): void => {
    if (relay === undefined) {
      relay = startRelay(target);
      if (!relay)
        log.warn('NOTIFY_SOCKET is set but neither python3 nor socat is on PATH: systemd is not told of readiness');
    }
    if (!relay || relay.child.stdin!.destroyed) return;
    relay.queue.push([...fields, `MAINPID=${process.pid}`].join('\n') + relay.terminator);
    deliver(relay);
  };
  return {
    enabled: true,
    ready: (status) => send(['READY=1', `STATUS=${oneLine(status)}`]),
    // RELOADING=1 wants the monotonic time (systemd >= 253 checks it with Type=notify-reload)
    reloading: () => send(['RELOADING=1', `MONOTONIC_USEC=${monotonicUsec()}`, 'STATUS=reloading']),
    stopping: (status = 'stopping') => send(['STOPPING=1', `STATUS=${oneLine(status)}`]),
    status: (text) => send([`STATUS=${oneLine(text)}`]),
    close: () => {
      const r = relay;
      if (!r) return;
      // let queued messages (STOPPING=1) go out first
      const end = (): void => {
        if (r.queue.length === 0 && !r.busy) r.child.stdin!.end();
        else setTimeout(end, 10).unref();
      };
      end();
    },
  };
}

function monotonicUsec(): string {
  // process.hrtime is CLOCK_MONOTONIC on Linux
  return (process.hrtime.bigint() / 1000n).toString();
}

/** The process-wide notifier, from the environment at start. */
export const notify: Notifier = createNotifier();
