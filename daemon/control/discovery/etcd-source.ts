// An etcd key prefix whose keys are a pool's backends (one key per backend,
// etcd-entry.ts). The prefix is read whole, then watched from the next revision
// with the etcd3 client, which restores a lost watch by itself (backoff capped
// at [etcd] retry_max) and replays what changed meanwhile; while it is lost the
// last good set is kept (state failing, reason disconnected) however long it
// takes. A watch etcd cancels (its revision was compacted) is started over
// from a fresh read.
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { parseEntry } from './etcd-entry.js';
import { Source, type Found, type SourceHooks } from './source.js';

/** The first wait before a new attempt after a failed read (doubles up to [etcd] retry_max). */
const FIRST_RETRY_MS = 100;

export interface EtcdContext {
  client(): Etcd3;
  /** ms: the longest wait between two attempts */
  retryMax(): number;
}

export class EtcdSource extends Source {
  private watcher: Watcher | null = null;
  private readonly entries = new Map<string, Found>();
  /** key name -> why its entry is refused (reported once per distinct reason) */
  private readonly invalid = new Map<string, string>();
  private retryMs = FIRST_RETRY_MS;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly prefix: string,
    hooks: SourceHooks,
    private readonly ctx: EtcdContext,
  ) {
    super('etcd', prefix, hooks);
  }

  start(): void {
    void this.connect();
  }

  override stop(): void {
    super.stop();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const w = this.watcher;
    this.watcher = null;
    if (w) void w.cancel().catch(() => undefined);
  }

  /** The etcd key of a backend this source made, by its name. */
  keyOf(name: string): string {
    return this.prefix + name;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = this.ctx.client();
    try {
      const res = await client.getAll().prefix(this.prefix).exec();
      if (this.stopped) return;
      this.entries.clear();
      for (const kv of res.kvs) this.take(kv);
      const next = (BigInt(res.header.revision) + 1n).toString();
      const w = await client.watch().prefix(this.prefix).startRevision(next).create();
      if (this.stopped) {
        void w.cancel().catch(() => undefined);
        return;
      }
      this.watcher = w;
      w.on('put', (kv) => this.onPut(kv));
      w.on('delete', (kv) => this.onDelete(kv));
      // etcd3 says so on every failed attempt to restore it: one loss is one failure
      w.on('disconnected', (err) => {
        if (this.state !== 'failing') this.failed('disconnected', `watch of ${this.prefix} lost: ${err.message}`);
      });
      // restored by etcd3, with what changed meanwhile replayed before this
      w.on('connected', () => this.succeeded(this.list()));
      w.on('error', (err) => this.restart(`watch of ${this.prefix} ended: ${err.message}`));
      this.retryMs = FIRST_RETRY_MS;
      this.succeeded(this.list());
    } catch (err) {
      if (this.stopped) return;
      this.failed('disconnected', `cannot read ${this.prefix}: ${(err as Error).message}`);
      this.timer = setTimeout(() => void this.connect(), this.retryMs);
      this.timer.unref();
      this.retryMs = Math.min(this.retryMs * 2, this.ctx.retryMax());
    }
  }

  /** A watch etcd ended (compaction, a cancel): read the prefix again and watch from there. */
  private restart(why: string): void {
    if (this.stopped) return;
    const w = this.watcher;
    this.watcher = null;
    if (w) void w.cancel().catch(() => undefined);
    this.failed('disconnected', why);
    this.timer = setTimeout(() => void this.connect(), this.retryMs);
    this.timer.unref();
  }

  private onPut(kv: IKeyValue): void {
    this.take(kv);
    this.succeeded(this.list());
  }

  private onDelete(kv: IKeyValue): void {
    const name = kv.key.toString().slice(this.prefix.length);
    this.entries.delete(name);
    this.invalid.delete(name);
    this.succeeded(this.list());
  }

  /** One key's value into the set; a refused entry leaves the set without it and is reported. */
  private take(kv: IKeyValue): void {
    const name = kv.key.toString().slice(this.prefix.length);
    const r = parseEntry(name, kv.value.toString());
    if (r.ok) {
      this.entries.set(name, r.found);
      this.invalid.delete(name);
      return;
    }
    this.entries.delete(name);
    if (this.invalid.get(name) === r.reason) return;
    this.invalid.set(name, r.reason);
    this.failures.invalid++;
    this.hooks.notice({ what: 'invalid', reason: 'invalid', detail: r.reason });
  }

  private list(): Found[] {
    return [...this.entries.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}
