// One `subscribe` stream: a snapshot line now and every interval, and an event
// line as each event happens (the line format is in daemon/control/snapshot/snapshot.ts). The
// writer decides whether the client keeps up; when it returns false the
// subscriber is gone and the stream stops.
import type { DaemonEvent } from '../snapshot/snapshot.js';
import type { ControlContext } from './context.js';
import { jsonError, toPayload, type RequestId } from './protocol.js';

export interface SubscriptionOptions {
  ctx: ControlContext;
  id: RequestId;
  intervalMs: number;
  /** the current snapshot as JSON text, shared by all subscribers of one tick */
  snapshotJson(): string;
  /** returns false when the client was dropped */
  write(line: string): boolean;
  onError(e: unknown): void;
}

export function startSubscription(o: SubscriptionOptions): () => void {
  const prefix = `{"id":${JSON.stringify(o.id)},"ok":true,"data":`;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    if (timer) clearInterval(timer);
    unsubscribe();
  };
  const send = (line: string): void => {
    if (!stopped && !o.write(line)) stop();
  };
  const tick = (): void => {
    let json: string;
    try {
      json = o.snapshotJson();
    } catch (e) {
      o.onError(e);
      send(jsonError(o.id, toPayload(e)));
      return;
    }
    send(`${prefix}{"type":"snapshot","snapshot":${json}}}\n`);
  };

  // events arrive asynchronously, so stop() never runs before this is set
  const unsubscribe = o.ctx.onEvent((event: DaemonEvent) => {
    send(`${prefix}${JSON.stringify({ type: 'event', event })}}\n`);
  });
  tick();
  if (!stopped) timer = setInterval(tick, o.intervalMs);
  return stop;
}
