// Holds the reducer's state between the subscription (which dispatches at the
// daemon's pace) and the screens (which read it at their own steady pace).
import { reduce, type DashboardAction, type DashboardState } from './reducer.js';

export interface Store {
  getState(): DashboardState;
  dispatch(a: DashboardAction): void;
  /** bumps on every dispatch: a reader redraws only when it changed */
  readonly version: number;
}

export function createStore(initial: DashboardState): Store {
  let state = initial;
  let version = 0;
  return {
    getState: () => state,
    dispatch(a) {
      state = reduce(state, a);
      version++;
    },
    get version() {
      return version;
    },
  };
}
