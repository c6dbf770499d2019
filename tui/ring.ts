// Bounded histories for sparklines and charts. The reducer keeps them as plain
// arrays so a state is a value: a push returns a new array, never longer than
// its capacity, and the old one stays valid for whatever still renders it.

export function pushBounded<T>(ring: readonly T[] | undefined, value: T, capacity: number): T[] {
  const base = ring ?? [];
  const keep = base.length >= capacity ? base.slice(base.length - capacity + 1) : base.slice();
  keep.push(value);
  return keep;
}

/** Appends many, keeping the newest `capacity`. */
export function appendBounded<T>(ring: readonly T[], values: readonly T[], capacity: number): T[] {
  const all = ring.concat(values);
  return all.length > capacity ? all.slice(all.length - capacity) : all;
}
