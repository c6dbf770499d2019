// Progress of a traffic run: a redrawn bar on a TTY, a plain line every 2 s
// otherwise (logs and CI keep them readable), nothing when asked for none.
import type { ProgressStyle } from './options.js';

export interface ProgressState {
  done: number;
  errors: number;
  elapsedMs: number;
}

export class Progress {
  private timer: NodeJS.Timeout | undefined;
  private readonly bar: boolean;
  private readonly silent: boolean;
  private lastLine = 0;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    style: ProgressStyle,
    private readonly total: number | undefined,
    private readonly durationMs: number | undefined,
    private readonly read: () => ProgressState,
  ) {
    this.silent = style === 'none';
    this.bar = style === 'bar' || (style === 'auto' && stream.isTTY === true);
  }

  start(): void {
    if (this.silent) return;
    this.timer = setInterval(() => this.draw(false), this.bar ? 200 : 500);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (!this.silent) this.draw(true);
  }

  private fraction(s: ProgressState): number {
    const byCount = this.total ? s.done / this.total : 0;
    const byTime = this.durationMs ? s.elapsedMs / this.durationMs : 0;
    return Math.min(1, Math.max(byCount, byTime));
  }

  private draw(final: boolean): void {
    const s = this.read();
    const rate = s.elapsedMs > 0 ? Math.round((s.done / s.elapsedMs) * 1000) : 0;
    const text = `${s.done}${this.total ? `/${this.total}` : ''} done, ${s.errors} errors, ${rate}/s, ${(s.elapsedMs / 1000).toFixed(1)}s`;
    if (this.bar) {
      const width = 30;
      const filled = Math.round(this.fraction(s) * width);
      this.stream.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}\x1b[K${final ? '\n' : ''}`);
      return;
    }
    if (final || s.elapsedMs - this.lastLine >= 2000) {
      this.lastLine = s.elapsedMs;
      this.stream.write(`traffic: ${text}\n`);
    }
  }
}
