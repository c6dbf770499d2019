// Which table slot belongs to which listener, pool and backend. Slots are keyed by
// name ("pool/name" for backends) so that what survives a reload keeps its slot,
// state and counters.

export class SlotAllocator {
  private readonly free: number[] = [];
  private next = 0;
  constructor(
    readonly capacity: number,
    private readonly what: string,
  ) {}
  alloc(): number {
    const s = this.free.pop();
    if (s !== undefined) return s;
    if (this.next >= this.capacity) throw new Error(`no free ${this.what} slot (limit ${this.capacity})`);
    return this.next++;
  }
  release(slot: number): void {
    this.free.push(slot);
  }
  get used(): number {
    return this.next - this.free.length;
  }
}

export class NamedSlots {
  readonly bySlot = new Map<number, string>();
  private readonly byName = new Map<string, number>();
  private readonly alloc: SlotAllocator;
  constructor(capacity: number, what: string) {
    this.alloc = new SlotAllocator(capacity, what);
  }
  get(name: string): number | undefined {
    return this.byName.get(name);
  }
  /** [slot, isNew] */
  ensure(name: string): [number, boolean] {
    const s = this.byName.get(name);
    if (s !== undefined) return [s, false];
    const n = this.alloc.alloc();
    this.byName.set(name, n);
    this.bySlot.set(n, name);
    return [n, true];
  }
  release(name: string): void {
    const s = this.byName.get(name);
    if (s === undefined) return;
    this.byName.delete(name);
    this.bySlot.delete(s);
    this.alloc.release(s);
  }
  names(): IterableIterator<string> {
    return this.byName.keys();
  }
  entries(): IterableIterator<[string, number]> {
    return this.byName.entries();
  }
  get capacity(): number {
    return this.alloc.capacity;
  }
  /** slots that a new config needs but are not allocated yet */
  freeCount(): number {
    return this.alloc.capacity - this.alloc.used;
  }
}
