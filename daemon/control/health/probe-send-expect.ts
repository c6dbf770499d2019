// send_expect: write `send`, then read until the bytes received contain `expect`
// (a string, compared byte for byte) or match it (a RegExp, over the UTF-8 text).
import net from 'node:net';
import { excerpt, guardProbe } from './probe-guard.js';
import type { Probe, SendExpectCheck } from './probe-types.js';

/** A reply is searched within its first 16 KiB: a banner or a PONG fits many times over. */
export const SEND_EXPECT_MAX_READ = 16 * 1024;

export const probeSendExpect: Probe<SendExpectCheck> = (target, check, signal) =>
  guardProbe(check.timeout, signal, (s) => {
    const expect = check.expect;
    const needle = typeof expect === 'string' ? Buffer.from(expect, 'utf8') : null;
    let acc = Buffer.alloc(0);

    const matched = (): boolean => {
      if (needle) return acc.includes(needle);
      const re = expect as RegExp;
      re.lastIndex = 0; // a /g or /y pattern carries state between calls
      return re.test(acc.toString('utf8'));
    };

    const sock = net.connect({ host: target.host, port: target.port });
    sock.on('connect', () => {
      s.phase = 'read';
      if (check.send.length > 0) sock.write(check.send);
      if (needle && needle.length === 0) s.finish(true, 'connected, nothing to expect');
    });
    sock.on('data', (chunk: Buffer) => {
      const room = SEND_EXPECT_MAX_READ - acc.length;
      // re-searching the whole prefix each time is fine at this size and finds an
      // expect split across two reads
      acc = Buffer.concat([acc, chunk.length > room ? chunk.subarray(0, room) : chunk]);
      if (matched()) s.finish(true, `expect matched after ${acc.length} bytes`);
      else if (acc.length >= SEND_EXPECT_MAX_READ) {
        s.finish(false, `expect not found in the first ${SEND_EXPECT_MAX_READ} bytes: ${excerpt(acc)}`);
      }
    });
    sock.on('end', () => {
      s.finish(false, `connection closed before expect matched, got ${acc.length} bytes: ${excerpt(acc)}`);
    });
    sock.on('error', (err) => s.fail(err));
    return () => sock.destroy();
  });
