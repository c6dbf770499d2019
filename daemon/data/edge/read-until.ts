// Read the first bytes of a client socket until a decision can be made, a byte
// limit is reached, a deadline passes, or the client goes away. Used for the
// PROXY header and for the bounded peek; only connections on a listener with
// one of those features configured ever come here.
import type { Duplex } from 'node:stream';

type ReadEnd =
  /** `decide` returned a decision */
  | 'decided'
  /** `maxBytes` read without a decision */
  | 'limit'
  /** the deadline passed without a decision */
  | 'timeout'
  /** the client half-closed (FIN) before a decision: `data` is all it sent */
  | 'ended'
  /** the socket errored or closed before a decision */
  | 'closed';

export interface ReadUntilResult<T> {
  end: ReadEnd;
  /** every byte read, unchanged (including `initial`) */
  data: Buffer;
  decision: T | null;
}

const EMPTY = Buffer.alloc(0);

/** `decide` sees at most `maxBytes`, however many arrived in one read: the limit is the same on every network. */
function within(data: Buffer, maxBytes: number): Buffer {
  return data.length > maxBytes ? data.subarray(0, maxBytes) : data;
}

/**
 * The socket is left paused (`readableFlowing === false`) with no listener of
 * ours attached, so no byte is lost between this read and the relay: the relay
 * attaches its own 'data' handler and calls `resume()`. When `end` is 'ended',
 * the socket's 'end' event has already fired and the relay must treat the
 * client as half-closed. A FIN that arrives after this returns may emit 'end'
 * before the relay listens (net.Socket emits it on EOF even while paused when
 * no data is buffered): the relay checks `readableEnded` when it starts.
 */
export function readUntil<T>(
  socket: Duplex,
  initial: Buffer | null,
  maxBytes: number,
  timeoutMs: number,
  decide: (buf: Buffer) => T | null,
): Promise<ReadUntilResult<T>> {
  let data = initial ?? EMPTY;
  if (data.length > 0) {
    const d = decide(within(data, maxBytes));
    if (d !== null) return Promise.resolve({ end: 'decided', data, decision: d });
    if (data.length >= maxBytes) return Promise.resolve({ end: 'limit', data, decision: null });
  }
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | null = null;
    const finish = (end: ReadEnd, decision: T | null): void => {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      socket.pause();
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onClose);
      socket.off('close', onClose);
      resolve({ end, data, decision });
    };
    const onData = (chunk: Buffer): void => {
      data = data.length === 0 ? chunk : Buffer.concat([data, chunk]);
      const d = decide(within(data, maxBytes));
      if (d !== null) finish('decided', d);
      else if (data.length >= maxBytes) finish('limit', null);
    };
    const onEnd = (): void => finish('ended', null);
    const onClose = (): void => finish('closed', null);
    timer = setTimeout(() => finish('timeout', null), timeoutMs);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onClose);
    socket.on('close', onClose);
    socket.resume();
  });
}
