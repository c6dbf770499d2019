// The table's header: which config generation runs, the reload record and the
// daemon's start time. Written by the main thread; workers read the generation.
import {
  H_GENERATION,
  H_LAST_RELOAD_OK,
  H_MAGIC,
  H_RELOAD_FAILURES,
  H_RELOADS,
  HF_LAST_RELOAD_TIME,
  HF_START_TIME,
  MAGIC,
  type Layout,
} from './layout.js';

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
    this.i32[H_MAGIC] = MAGIC;
    this.f64[this.f + HF_START_TIME] = now;
  }
  /** Whether the buffer carries a table's magic (a worker attaching checks it). */
  hasMagic(): boolean {
    return this.i32[H_MAGIC] === MAGIC;
  }

  /** The config generation in force (bumped by every applied reload). */
  generation(): number {
    return Atomics.load(this.i32, H_GENERATION);
  }
  setGeneration(g: number): void {
    Atomics.store(this.i32, H_GENERATION, g);
  }
  /** ms since epoch at which the table was created */
  startTime(): number {
    return this.f64[this.f + HF_START_TIME]!;
  }
  /** Count one reload, applied (`ok`) or not, at `now` (ms since epoch). */
  recordReload(ok: boolean, now: number): void {
    Atomics.add(this.i32, ok ? H_RELOADS : H_RELOAD_FAILURES, 1);
    Atomics.store(this.i32, H_LAST_RELOAD_OK, ok ? 1 : 0);
    this.f64[this.f + HF_LAST_RELOAD_TIME] = now;
  }
  reloadStats(): ReloadStats {
    return {
      reloads: Atomics.load(this.i32, H_RELOADS),
      failures: Atomics.load(this.i32, H_RELOAD_FAILURES),
      lastOk: Atomics.load(this.i32, H_LAST_RELOAD_OK) === 1,
      lastTime: this.f64[this.f + HF_LAST_RELOAD_TIME]!,
    };
  }
}
