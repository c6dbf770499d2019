// The parts of blessed-contrib the charts mode uses (the package ships no types).
declare module 'blessed-contrib' {
  import type { Widgets } from 'blessed';

  interface WidgetOptions {
    label?: string;
    border?: { type?: 'line' | 'bg' };
    style?: Record<string, unknown>;
    [key: string]: unknown;
  }

  export interface LineSeries {
    title: string;
    x: string[];
    y: number[];
    style?: { line?: string };
  }

  export interface LineWidget extends Widgets.BoxElement {
    setData(series: LineSeries[]): void;
  }

  export interface BarWidget extends Widgets.BoxElement {
    setData(data: { titles: string[]; data: number[] }): void;
  }

  export interface GaugeWidget extends Widgets.BoxElement {
    /** a fraction 0..1 (values above 1.001 are read as percent) */
    setPercent(value: number): void;
    setLabel(label: string): void;
  }

  export interface LogWidget extends Widgets.BoxElement {
    log(line: string): void;
  }

  export type WidgetFactory<W> = (options?: WidgetOptions) => W;

  export const line: WidgetFactory<LineWidget>;
  export const bar: WidgetFactory<BarWidget>;
  export const gauge: WidgetFactory<GaugeWidget>;
  export const log: WidgetFactory<LogWidget>;

  export class grid {
    constructor(options: { rows: number; cols: number; screen: Widgets.Screen });
    set<W>(
      row: number,
      col: number,
      rowSpan: number,
      colSpan: number,
      factory: WidgetFactory<W>,
      options?: WidgetOptions,
    ): W;
  }

  const contrib: {
    grid: typeof grid;
    line: typeof line;
    bar: typeof bar;
    gauge: typeof gauge;
    log: typeof log;
  };
  export default contrib;
}
