// What a test opened (servers, daemons, load loops), closed after it however it
// ends: a setup step that throws must not leave a listening socket that keeps
// the test file's process alive.
import type { TestContext } from 'node:test';

type Closable = { close(): Promise<void> } | { stop(): Promise<unknown> };
const owned = new WeakMap<TestContext, Closable[]>();

/** `x`, closed (or stopped) after the test however it ends, the newest first. */
export function own<T extends Closable>(t: TestContext, x: T): T {
  let list = owned.get(t);
  if (list === undefined) {
    const mine: Closable[] = [];
    owned.set(t, (list = mine));
    t.after(async () => {
      for (const c of mine.reverse()) await ('close' in c ? c.close() : c.stop());
    });
  }
  list.push(x);
  return x;
}
