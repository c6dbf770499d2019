// What every discovery source shares: the last good set of backends it found,
// its state (pending, ok, failing with the last good set kept, expired past the
// hold time), when it last refreshed, and its counters. A source only says
// what it found; the service turns that into a running config that the daemon
// applies through the same diff as a reload.
import type { AdminStateName } from '../../state/names.js';

/** One backend a source found. */
export interface Found {
  /** the part of its name after the source's own: "10.0.0.7:8080" (DNS, "[v6]:port") or an etcd key's last part */
  id: string;
  /** an IP literal */
  ip: string;
  port: number;
  /** 1..256; null: the configured weight */
  weight: number | null;
  /** true: a backup (a higher SRV priority, an etcd entry's "backup") */
  backup: boolean;
  /** null: the configured one (etcd may set it) */
  maxConnections: number | null;
  /** null: left to the operator */
  admin: AdminStateName | null;
  /** the DNS name whose record gave the address ("" for etcd) */
  host: string;
}

export type SourceKind = 'dns' | 'srv' | 'etcd';

/**
 * pending: no answer yet; ok: the last refresh succeeded; failing: the last
 * refresh failed and the last good set is kept (for the hold time, for DNS);
 * expired: failing past the hold time, its backends were removed.
 */
export type SourceState = 'pending' | 'ok' | 'failing' | 'expired';

/** Why a refresh failed: a DNS hold kind, a bad etcd entry, a lost etcd connection. */
export type FailureReason = 'nx' | 'timeout' | 'refused' | 'invalid' | 'disconnected';

/** What a source reports besides its set: each becomes a `discovery` event, a log line and a counter. */
export interface SourceNotice {
  what: 'failed' | 'recovered' | 'expired' | 'invalid' | 'disconnected' | 'connected';
  reason: FailureReason | null;
  detail: string;
}

export interface SourceHooks {
  now(): number;
  /** the set changed (or the source expired): the service builds and applies a new running config */
  changed(): void;
  notice(n: SourceNotice): void;
}

/** One source of one pool. Subclasses fill `set` and call `succeeded`/`failed`. */
export abstract class Source {
  /** the last good set, in answer order; [] before the first answer */
  set: Found[] = [];
  state: SourceState = 'pending';
  /** ms since epoch of the last attempt's end, last success; null before */
  lastRefresh: number | null = null;
  lastSuccess: number | null = null;
  /** ms since epoch of the next planned refresh (DNS); null for a watch */
  nextRefresh: number | null = null;
  /** the last failure's message while failing, else null */
  error: string | null = null;
  refreshes = 0;
  readonly failures: Record<FailureReason, number> = { nx: 0, timeout: 0, refused: 0, invalid: 0, disconnected: 0 };
  readonly changes = { added: 0, removed: 0, reweighted: 0 };
  protected stopped = false;
  /** resolves after the first answer or failure (the start and a reload wait for it, bounded) */
  readonly firstAnswer: Promise<void>;
  private answered!: () => void;

  constructor(
    readonly kind: SourceKind,
    /** what is asked: "app.internal:8080", "_app._tcp.internal", "/netmon/web/" */
    readonly target: string,
    protected readonly hooks: SourceHooks,
  ) {
    this.firstAnswer = new Promise((resolve) => (this.answered = resolve));
  }

  /** "dns app.internal:8080", as `show pools` and events name the source */
  get label(): string {
    return `${this.kind} ${this.target}`;
  }

  abstract start(): void;

  stop(): void {
    this.stopped = true;
    this.answered();
  }

  /** A new good set: state ok, a `recovered` notice after a failure, `changed` when it differs. */
  protected succeeded(found: Found[]): void {
    const now = this.hooks.now();
    const wasFailing = this.state === 'failing' || this.state === 'expired';
    const differs = !sameSet(this.set, found);
    this.set = found;
    this.state = 'ok';
    this.error = null;
    this.lastRefresh = now;
    this.lastSuccess = now;
    this.refreshes++;
    this.answered();
    if (wasFailing) this.hooks.notice({ what: 'recovered', reason: null, detail: `${found.length} backend(s)` });
    if (differs) this.hooks.changed();
  }

  /** A failed refresh: the set is kept; `notice` once per streak of failures (and again when the reason changes). */
  protected failed(reason: FailureReason, message: string): void {
    const first = this.state !== 'failing' && this.state !== 'expired';
    const changedReason = !first && this.error !== null && !this.error.startsWith(`${reason}:`);
    this.state = this.state === 'expired' ? 'expired' : 'failing';
    this.error = `${reason}: ${message}`;
    this.lastRefresh = this.hooks.now();
    this.refreshes++;
    this.failures[reason]++;
    this.answered();
    if (first || changedReason)
      this.hooks.notice({ what: reason === 'disconnected' ? 'disconnected' : 'failed', reason, detail: message });
  }

  /** The hold time ran out: the set is dropped (its backends are removed, draining). */
  protected expire(reason: FailureReason, heldMs: number): void {
    if (this.state === 'expired') return;
    const had = this.set.length;
    this.set = [];
    this.state = 'expired';
    this.hooks.notice({ what: 'expired', reason, detail: `failing for ${heldMs} ms; ${had} backend(s) removed` });
    if (had > 0) this.hooks.changed();
  }
}

/** Same backends with the same settings, in any order. */
function sameSet(a: readonly Found[], b: readonly Found[]): boolean {
  if (a.length !== b.length) return false;
  const key = (f: Found): string =>
    JSON.stringify([f.id, f.ip, f.port, f.weight, f.backup, f.maxConnections, f.admin, f.host]);
  const have = new Set(a.map(key));
  return b.every((f) => have.has(key(f)));
}

/** "10.0.0.7:8080" or "[2001:db8::7]:8080". */
export function ipPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
