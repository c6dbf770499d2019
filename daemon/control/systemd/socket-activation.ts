// systemd socket activation (sd_listen_fds(3)): listening sockets passed as fds
// 3, 4, ... with LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES. A passed socket whose
// name is a [[listener]] name is served instead of binding that listener's
// address. The variables are removed from the environment once read, so no child
// process (the notify relay) believes the sockets are its own.
import { fstatSync } from 'node:fs';
import { NetmonError } from '../../errors.js';

const SD_LISTEN_FDS_START = 3;

/** listener name -> fd */
export type ActivatedSockets = Map<string, number>;

/**
 * Reads the activation variables. Returns an empty map when there are none or
 * they are meant for another process (LISTEN_PID); throws E_SOCKET_ACTIVATION
 * when they are malformed or name a listener the config does not have.
 */
export function takeActivatedSockets(
  listenerNames: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  pid = process.pid,
  isSocket: (fd: number) => boolean = fdIsSocket,
): ActivatedSockets {
  const { LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES } = env;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  const out: ActivatedSockets = new Map();
  if (LISTEN_FDS === undefined) return out;
  if (LISTEN_PID !== undefined && LISTEN_PID !== String(pid)) return out;
  if (!/^\d{1,4}$/.test(LISTEN_FDS))
    throw bad(`LISTEN_FDS must be a count, got ${JSON.stringify(LISTEN_FDS.slice(0, 32))}`);
  const count = Number(LISTEN_FDS);
  if (count === 0) return out;
  const names = (LISTEN_FDNAMES ?? '').split(':');
  if (LISTEN_FDNAMES === undefined || names.length !== count) {
    throw bad(
      `${count} socket(s) passed but LISTEN_FDNAMES has ${LISTEN_FDNAMES === undefined ? 'no' : names.length} name(s): ` +
        'set FileDescriptorName= in the .socket unit to the [[listener]] name',
    );
  }
  for (let i = 0; i < count; i++) {
    const fd = SD_LISTEN_FDS_START + i;
    const name = names[i]!;
    if (!listenerNames.includes(name)) {
      throw bad(
        `passed socket ${JSON.stringify(name)} (fd ${fd}) matches no [[listener]] name (${listenerNames.join(', ')})`,
      );
    }
    if (out.has(name)) throw bad(`two passed sockets are named ${JSON.stringify(name)}`);
    if (!isSocket(fd)) throw bad(`fd ${fd} (${JSON.stringify(name)}) is not a socket`);
    out.set(name, fd);
  }
  return out;
}

function fdIsSocket(fd: number): boolean {
  try {
    return fstatSync(fd).isSocket();
  } catch {
    return false;
  }
}

function bad(message: string): NetmonError {
  return new NetmonError('E_SOCKET_ACTIVATION', message);
}
