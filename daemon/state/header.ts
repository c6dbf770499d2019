// The table's header: which config generation runs, the reload record and the
// daemon's start time. Written by the main thread; workers read the generation.
import { MAGIC, type Layout } from './layout.js';
import { HeaderF64, HeaderI32 } from './fields.js';

/** Reloads since start, as `show info` and the metrics report them. */
export interface ReloadStats {
  /** successful reloads */
  reloads: number;
  /** refused or failed reloads */
  failures: number;
  /** whether the last reload succeeded (false before any) */
  lastOk: boolean;
  /** ms since epoch of the last reload; 0 before any */
  lastTime: number;
}

export class HeaderView {
  private readonly f: number;

  constructor(
    private readonly i32: Int32Array,
    private readonly f64: Float64Array,
    layout: Layout,
  ) {
    this.f = layout.headerF64();
  }

  /** A new table: stamp the magic and the start time (ms since epoch). */
  stamp(now: number): void {
    this.i32[HeaderI32.Magic] = MAGIC;
    this.f64[this.f + HeaderF64.StartTime] = now;
  }
  /** Whether the buffer carries a table's magic (a worker attaching checks it). */
  hasMagic(): boolean {
    return this.i32[HeaderI32.Magic] === MAGIC;
  }

  /** The config generation in force (bumped by every applied reload). */
  generation(): number {
    return Atomics.load(this.i32, HeaderI32.Generation);
  }
  setGeneration(g: number): void {
    Atomics.store(this.i32, HeaderI32.Generation, g);
  }
  /** ms since epoch at which the table was created */
  startTime(): number {
    return this.f64[this.f + HeaderF64.StartTime]!;
  }
  /** Count one reload, applied (`ok`) or not, at `now` (ms since epoch). */
  recordReload(ok: boolean, now: number): void {
    Atomics.add(this.i32, ok ? HeaderI32.Reloads : HeaderI32.ReloadFailures, 1);
    Atomics.store(this.i32, HeaderI32.LastReloadOk, ok ? 1 : 0);
    this.f64[this.f + HeaderF64.LastReloadTime] = now;
  }
  reloadStats(): ReloadStats {
    return {
      reloads: Atomics.load(this.i32, HeaderI32.Reloads),
      failures: Atomics.load(this.i32, HeaderI32.ReloadFailures),
      lastOk: Atomics.load(this.i32, HeaderI32.LastReloadOk) === 1,
      lastTime: this.f64[this.f + HeaderF64.LastReloadTime]!,
    };
  }
}
