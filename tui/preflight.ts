// What `netmon top` checks before it takes over the terminal, so that a wrong
// socket path or a pipe gets one clear line instead of a broken screen.
import { accessSync, constants, statSync } from 'node:fs';

/** null when the path is a socket this user may connect to; else why not. */
export function socketProblem(path: string): string | null {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      return `no control socket at ${path}: is the daemon running? is this the [control] socket of its config? (--socket PATH or $NETMON_SOCKET)`;
    }
    if (code === 'EACCES') return `cannot reach ${path}: permission denied on a parent directory`;
    return `cannot reach ${path}: ${code ?? String(e)}`;
  }
  if (!st.isSocket()) return `${path} is not a socket; give the daemon's control socket with --socket PATH`;
  try {
    // connecting to a Unix socket needs write permission on it
    accessSync(path, constants.R_OK | constants.W_OK);
  } catch {
    return `cannot open ${path}: permission denied; run as the daemon's user, root, or a member of the socket's group`;
  }
  return null;
}

export interface Terminal {
  stdoutIsTTY: boolean;
  stdinIsTTY: boolean;
  /** stdin can be put in raw mode (a key arrives as it is pressed) */
  rawMode: boolean;
}

export function currentTerminal(): Terminal {
  const stdin = process.stdin;
  return {
    stdoutIsTTY: process.stdout.isTTY === true,
    stdinIsTTY: stdin.isTTY === true,
    rawMode: stdin.isTTY === true && typeof stdin.setRawMode === 'function',
  };
}
