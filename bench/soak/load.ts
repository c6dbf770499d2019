// What a soak load process is asked to do and what it reports; the parent side
// (Load) forks one per load and talks to it over IPC.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface LoadSpec {
  port: number;
  /**
   * `short`: connect, send `payload` bytes with a FIN, expect them echoed and
   * the FIN back. `stream`: hold a connection, one echoed line every
   * `intervalMs`, until told to stop (then a clean close).
   */
  mode: 'short' | 'stream';
  /** short: connections in flight at once; stream: connections held */
  concurrency: number;
  /** short: stop after this many connections (0 = until told to stop) */
  count: number;
  payload: number;
  intervalMs: number;
  /** bind each connection to its own loopback source 127.x.y.z, cycling over this many; 0 = the default */
  sources: number;
  /** ms a connection may wait for its echo before it counts as failed */
  timeoutMs: number;
}

/** One load's outcome. A connection is ok, failed (an error: reset, refused, timeout) or truncated (a clean FIN too early). */
export interface LoadResult {
  ok: number;
  failed: number;
  truncated: number;
  /** failures by error code */
  codes: Record<string, number>;
  /** epoch ms at which each failed or truncated connection started (at most 10,000) */
  lostAt: number[];
  /** stream mode: connections held at once */
  established: number;
  ms: number;
}

export type ToLoad = { type: 'start'; spec: LoadSpec } | { type: 'stop' };
export type FromLoad = { type: 'ready'; established: number } | { type: 'result'; result: LoadResult };

const CLIENT = fileURLToPath(new URL('./client-main.js', import.meta.url));

/** A load process: started, ready (streams held), stopped with its result. */
export class Load {
  private readonly child: ChildProcess;
  private result: Promise<LoadResult>;
  readonly ready: Promise<number>;

  constructor(readonly spec: LoadSpec) {
    this.child = fork(CLIENT, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.ready = new Promise((resolve) => {
      const on = (m: FromLoad): void => {
        if (m.type !== 'ready') return;
        this.child.off('message', on);
        resolve(m.established);
      };
      this.child.on('message', on);
    });
    this.result = new Promise((resolve, reject) => {
      this.child.on('message', (m: FromLoad) => {
        if (m.type === 'result') resolve(m.result);
      });
      this.child.once('exit', (code) => reject(new Error(`load process exited (${code}) without a result`)));
    });
    this.child.send({ type: 'start', spec } satisfies ToLoad);
  }

  /** Resolves when a counted load has run its connections (or the deadline passed). */
  done(deadlineMs: number): Promise<LoadResult> {
    const timer = setTimeout(() => void this.stop(), deadlineMs);
    return this.result.finally(() => clearTimeout(timer));
  }

  /** Stop issuing, let what is in flight finish, close held streams cleanly; resolves with the result. */
  async stop(): Promise<LoadResult> {
    if (this.child.connected) this.child.send({ type: 'stop' } satisfies ToLoad);
    const r = await this.result;
    if (this.child.connected) this.child.disconnect();
    return r;
  }
}
