// Recent daemon events (state changes, alerts, reloads, actions) in a bounded
// ring, pushed to control-socket subscribers as they happen.
import type { DaemonEvent } from './snapshot/snapshot.js';

export class EventLog {
  private readonly ring: DaemonEvent[] = [];
  private readonly listeners = new Set<(e: DaemonEvent) => void>();
  constructor(private readonly capacity = 1000) {}

  push(e: DaemonEvent): void {
    this.ring.push(e);
    if (this.ring.length > this.capacity) this.ring.splice(0, this.ring.length - this.capacity);
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // a failing subscriber must not stop the others, nor the daemon
      }
    }
  }

  recent(limit: number): DaemonEvent[] {
    return this.ring.slice(Math.max(0, this.ring.length - limit));
  }

  /** events about one backend, oldest first */
  forBackend(key: string, limit: number): DaemonEvent[] {
    const out: DaemonEvent[] = [];
    for (let i = this.ring.length - 1; i >= 0 && out.length < limit; i--) {
      const e = this.ring[i]!;
      if (e.type === 'state' && e.backend === key) out.push(e);
    }
    return out.reverse();
  }

  subscribe(l: (e: DaemonEvent) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}
