// Injectable timers, so the checker and slow start run on a fake clock in tests.

export type TimerHandle = unknown;
export type SetTimer = (fn: () => void, ms: number) => TimerHandle;
export type ClearTimer = (handle: TimerHandle) => void;

/** Health timers never keep the process alive on their own: the servers do. */
export const defaultSetTimer: SetTimer = (fn, ms) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return t;
};

export const defaultClearTimer: ClearTimer = (handle) => {
  clearTimeout(handle as ReturnType<typeof setTimeout>);
};
