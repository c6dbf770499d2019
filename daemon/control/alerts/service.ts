// Runs the rules on the main thread every alerts.interval, and at once when a
// backend changes state, so backend_down is not held back by the interval.
// Its share of a reload: the rules run at once against the new config (new
// thresholds; alerts of removed backends resolve), on the new interval.
// Each transition becomes one log line and one `alert` event for subscribers.
import { log } from '../../log.js';
import { AlertEngine } from './engine.js';
import { RuleSet } from './rules.js';
import { inputsFromSnapshot, type BackendInput } from './inputs.js';
import type { AlertSnapshot, DaemonEvent, Snapshot } from '../snapshot/snapshot.js';
import type { AlertsConfig, Config } from '../../config/schema.js';
import type { ConfigDiff } from '../topology/diff.js';

/** What the alert service needs of the daemon: the Daemon satisfies it. */
export interface AlertHost {
  readonly currentConfig: Config;
  readonly eventLog: { push(e: DaemonEvent): void };
  readonly topology: { backends: { get(key: string): number | undefined } };
  snapshot(): Snapshot;
  windowLatency(slot: number): { connect: number[]; firstByte: number[] } | null;
  setAlertSource(fn: () => AlertSnapshot[]): void;
  onEvent(listener: (e: DaemonEvent) => void): () => void;
  /** told of each reload's diff once it is applied */
  onConfigApplied(fn: (d: ConfigDiff) => void): void;
}

export interface AlertService {
  /** run the rules now (also what the timer does) */
  evaluate(now?: number): void;
  list(): AlertSnapshot[];
  close(): Promise<void>;
}

export function startAlerts(host: AlertHost, now: () => number = Date.now): AlertService {
  const rules = new RuleSet();
  const engine = new AlertEngine((a) => transition(host, a));
  let timer: NodeJS.Timeout | null = null;
  let closed = false;

  const evaluate = (at = now()): void => {
    const cfg: AlertsConfig = host.currentConfig.alerts;
    const snap = host.snapshot();
    const latency = (key: string): BackendInput['latency'] => {
      const slot = host.topology.backends.get(key);
      return slot === undefined ? null : host.windowLatency(slot);
    };
    const conditions = rules.evaluate(inputsFromSnapshot(snap, latency), cfg, at);
    engine.update(conditions, { forMs: cfg.for, keepFiringForMs: cfg.keepFiringFor }, at);
  };
  const run = (): void => {
    try {
      evaluate();
    } catch (err) {
      log.error('alert evaluation failed', { err });
    }
  };
  const schedule = (): void => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      run();
      schedule();
    }, host.currentConfig.alerts.interval);
    timer.unref();
  };

  host.setAlertSource(() => engine.list());
  const unsubscribe = host.onEvent((e) => {
    // the event is pushed from inside the state change: evaluate just after it
    if (e.type === 'state') setImmediate(() => !closed && run());
  });
  host.onConfigApplied(() => {
    if (closed) return;
    run();
    schedule();
  });
  schedule();

  return {
    evaluate,
    list: () => engine.list(),
    close: async () => {
      closed = true;
      if (timer) clearTimeout(timer);
      unsubscribe();
    },
  };
}

function transition(host: AlertHost, a: AlertSnapshot): void {
  const fields = {
    alert: a.name,
    subject: a.subject,
    state: a.state,
    severity: a.severity,
    value: a.value,
    threshold: a.threshold,
    since: new Date(a.since).toISOString(),
  };
  if (a.state === 'firing') log.warn(`alert firing: ${a.message}`, fields);
  else if (a.state === 'resolved')
    log.info(`alert resolved: ${a.name} ${a.subject}`, { ...fields, fired: a.firedAt !== null });
  else log.info(`alert pending: ${a.message}`, fields);
  host.eventLog.push({ type: 'alert', time: a.resolvedAt ?? a.firedAt ?? a.since, alert: a });
}
