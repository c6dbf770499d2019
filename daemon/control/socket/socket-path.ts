// Which control socket `netmon ctl` and `netmon top` talk to when not told:
// --socket, else $NETMON_SOCKET, else the service's socket if it exists, else the
// demo config's. The choice and the reason travel with the path, so an error can
// say what was tried.
import { existsSync } from 'node:fs';
import { DEFAULT_CONTROL_SOCKET, DEMO_CONTROL_SOCKET } from '../../config/defaults.js';

/** the packaged service's socket (systemd RuntimeDirectory=netmon) */
export const DEFAULT_SOCKET = DEFAULT_CONTROL_SOCKET;
/** the embedded demo config's socket */
export const DEMO_SOCKET = DEMO_CONTROL_SOCKET;

export interface SocketChoice {
  path: string;
  /** how the path was chosen, for error messages */
  from: string;
}

export function chooseSocket(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  exists = existsSync,
): SocketChoice {
  if (flag) return { path: flag, from: '--socket' };
  if (env.NETMON_SOCKET) return { path: env.NETMON_SOCKET, from: '$NETMON_SOCKET' };
  if (exists(DEFAULT_SOCKET)) return { path: DEFAULT_SOCKET, from: 'the default' };
  return { path: DEMO_SOCKET, from: `the demo default, as ${DEFAULT_SOCKET} does not exist` };
}
