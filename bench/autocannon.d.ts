// The part of autocannon's programmatic API netmon uses (the package ships no types).
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  export interface AutocannonClient extends EventEmitter {
    on(event: 'headers', listener: (info: { statusCode: number; headers: string[] }) => void): this;
    on(event: 'request', listener: () => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }

  export interface AutocannonOptions {
    url: string;
    connections?: number;
    amount?: number;
    duration?: number;
    overallRate?: number;
    timeout?: number;
    method?: string;
    body?: string;
    headers?: Record<string, string>;
    pipelining?: number;
    reconnectRate?: number;
    setupClient?: (client: AutocannonClient) => void;
  }

  export interface AutocannonResult {
    requests: { total: number; average: number };
    errors: number;
    timeouts: number;
    non2xx: number;
    duration: number;
  }

  export interface AutocannonInstance extends EventEmitter {
    stop(): void;
    on(
      event: 'response',
      listener: (client: AutocannonClient, status: number, bytes: number, ms: number) => void,
    ): this;
    on(event: 'reqError', listener: (err: Error & { code?: string }) => void): this;
    on(event: 'done', listener: (result: AutocannonResult) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }

  function autocannon(
    opts: AutocannonOptions,
    cb: (err: Error | null, result: AutocannonResult) => void,
  ): AutocannonInstance;
  export default autocannon;
}
