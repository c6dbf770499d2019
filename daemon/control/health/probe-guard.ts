// The common frame of every probe: one settle, one hard timeout, abort support,
// and a cleanup that destroys whatever the probe opened, whichever way it ends.
import type { AgentData, ProbeResult } from './probe-types.js';
import { isFdExhaustion } from '../../process-fds.js';

export interface ProbeSession {
  /** Settle the probe; later calls are ignored. */
  finish(ok: boolean, detail: string, agent?: AgentData): void;
  /** Settle the probe as failed by `err`; EMFILE/ENFILE make it a local failure (ProbeResult.local). */
  fail(err: unknown): void;
  /** names the step in a timeout message: "connect", "read", "response" */
  phase: string;
  /**
   * Set once the probe has its verdict and only waits for extra data (an http
   * agent body): the timeout runs this instead of failing the probe.
   */
  onTimeout: (() => void) | null;
}

/**
 * Run `start`, which opens the probe's I/O and returns its cleanup. The promise
 * always resolves, within `timeoutMs` (plus event-loop delay).
 */
export function guardProbe(
  timeoutMs: number,
  signal: AbortSignal | undefined,
  start: (session: ProbeSession) => () => void,
): Promise<ProbeResult> {
  return new Promise<ProbeResult>((resolve) => {
    const t0 = performance.now();
    let settled = false;
    let cleanup: (() => void) | null = null;

    let local = false;
    const session: ProbeSession = { finish, fail, phase: 'connect', onTimeout: null };

    function fail(err: unknown): void {
      local = isFdExhaustion(err);
      finish(false, describeError(err));
    }

    function onAbort(): void {
      finish(false, 'aborted');
    }

    function finish(ok: boolean, detail: string, agent?: AgentData): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (cleanup) runCleanup(cleanup);
      const result: ProbeResult = { ok, durationMs: performance.now() - t0, detail };
      if (agent) result.agent = agent;
      if (local && !ok) result.local = true;
      resolve(result);
    }

    if (signal?.aborted) {
      settled = true;
      resolve({ ok: false, durationMs: 0, detail: 'aborted' });
      return;
    }
    const timer = setTimeout(() => {
      if (session.onTimeout) session.onTimeout();
      else finish(false, `timeout after ${timeoutMs} ms (${session.phase})`);
    }, timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const c = start(session);
      // finish() may already have run synchronously inside start()
      if (settled) runCleanup(c);
      else cleanup = c;
    } catch (err) {
      fail(err);
    }
  });
}

function runCleanup(c: () => void): void {
  try {
    c();
  } catch {
    // destroying an already-closed socket cannot fail in a way we could act on
  }
}

const ERRNO_TEXT: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'name not found',
  EAI_AGAIN: 'name lookup failed',
  ETIMEDOUT: 'timed out',
  EPIPE: 'connection closed while writing',
  EMFILE: 'netmon is out of file descriptors',
  ENFILE: 'the system is out of file descriptors',
};

/** "connection refused (ECONNREFUSED)" rather than a stack trace. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') {
      const text = ERRNO_TEXT[code];
      return text ? `${text} (${code})` : `${err.message}`;
    }
    return err.message;
  }
  return String(err);
}

/** A short printable excerpt of received bytes for a failure detail. */
export function excerpt(buf: Buffer, max = 64): string {
  const s = buf.subarray(0, max).toString('latin1');
  return JSON.stringify(s) + (buf.length > max ? '…' : '');
}
