// The dashboard's link to the daemon: one subscription (snapshots and events,
// reconnecting with backoff when the daemon restarts) feeding the store, and
// one short connection per action or `show clients` request.
import { request, subscribe, type Subscription } from '../daemon/control/socket/client.js';
import type { ClientStats } from '../daemon/control/socket/context.js';
import { NetmonError } from '../daemon/errors.js';
import type { Store } from './store.js';

export interface DaemonLink {
  /** sends one control command; resolves with the reply data or rejects with the daemon's error */
  send(cmd: string, args: Record<string, unknown>): Promise<unknown>;
  /** asks for `show clients` once and puts the answer in the store */
  refreshClients(limit: number): Promise<void>;
  close(): void;
}

export interface LinkOptions {
  socket: string;
  store: Store;
  /** snapshot interval asked of the daemon, ms */
  intervalMs?: number;
  /** reconnect backoff bounds, ms */
  minDelayMs?: number;
  maxDelayMs?: number;
  now?: () => number;
}

export function errorText(e: unknown): string {
  if (e instanceof NetmonError) return `${e.code}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

export function connectDaemon(o: LinkOptions): DaemonLink {
  const now = o.now ?? Date.now;
  const { store, socket } = o;
  const sub: Subscription = subscribe(socket, {
    intervalMs: o.intervalMs ?? 1000,
    minDelayMs: o.minDelayMs ?? 250,
    maxDelayMs: o.maxDelayMs ?? 4000,
    onConnect: () => store.dispatch({ type: 'connected', time: now() }),
    onDisconnect: (e, retryInMs) =>
      store.dispatch({ type: 'disconnected', time: now(), error: errorText(e), retryInMs }),
    onSnapshot: (snapshot) => store.dispatch({ type: 'snapshot', snapshot }),
    onEvent: (event) => store.dispatch({ type: 'event', event }),
  });
  return {
    send: (cmd, args) => request(socket, cmd, args, { timeoutMs: 5000 }),
    async refreshClients(limit) {
      try {
        const clients = (await request(socket, 'show-clients', { limit }, { timeoutMs: 3000 })) as ClientStats[];
        store.dispatch({ type: 'clients', clients });
      } catch (e) {
        store.dispatch({ type: 'clients-error', error: errorText(e) });
      }
    },
    close: () => sub.close(),
  };
}
