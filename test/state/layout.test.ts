// The state table's layout: regions in the buffer do not overlap, start where
// they must (cache lines), have the sizes a capacity gives, and every field a
// view writes stays inside its slot. The views are then checked through two
// tables over one buffer (the main thread's and a worker's).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CACHE_LINE, Layout, MAX_SOURCE_ENTRIES, type Region, type TableCapacity } from '../../daemon/state/layout.js';
import {
  BackendF64,
  BackendI32,
  BackendStripe,
  HeaderF64,
  HeaderI32,
  histogramBase,
  ListenerI32,
  ListenerStripe,
  PoolI32,
  PoolStripe,
  KEY_WORDS,
  SOURCE_REJECTS,
  SourceEntry,
  SourceListenerI32,
  WorkerStripe,
} from '../../daemon/state/fields.js';
import {
  AdminState,
  Cause,
  CONNECT_ERROR_REASONS,
  DURATION_BUCKETS,
  Histogram,
  HISTOGRAM_NAMES,
  LATENCY_BUCKETS,
  OpState,
  PEEK_MISS_REASONS,
  PROTOCOLS,
  RESET_SIDES,
  RESPONSE_ERROR_REASONS,
  REJECT_REASONS,
} from '../../daemon/state/names.js';
import { Table } from '../../daemon/state/table.js';

const CAPACITIES: TableCapacity[] = [
  { workers: 1, listeners: 1, pools: 1, backends: 1 },
  { workers: 2, listeners: 3, pools: 2, backends: 5 },
  { workers: 2, listeners: 3, pools: 2, backends: 5, sources: 1024 },
  { workers: 7, listeners: 5, pools: 3, backends: 13, sources: 16 },
  { workers: 64, listeners: 32, pools: 64, backends: 1024, sources: 1 << 12 },
  { workers: 1, listeners: 0, pools: 0, backends: 0 },
];

function overlaps(a: Region, b: Region): boolean {
  return (
    a.byteLength > 0 &&
    b.byteLength > 0 &&
    a.byteOffset < b.byteOffset + b.byteLength &&
    b.byteOffset < a.byteOffset + a.byteLength
  );
}

test('regions lie inside the buffer and do not overlap', () => {
  for (const cap of CAPACITIES) {
    const l = new Layout(cap);
    const regions = l.regions();
    for (const r of regions.filter((x) => x.byteLength > 0)) {
      assert.ok(
        r.byteOffset >= 0 && r.byteOffset + r.byteLength <= l.bytes,
        `${r.name} outside ${JSON.stringify(cap)}`,
      );
    }
    for (let i = 0; i < regions.length; i++) {
      for (let j = i + 1; j < regions.length; j++) {
        assert.ok(
          !overlaps(regions[i]!, regions[j]!),
          `${regions[i]!.name} overlaps ${regions[j]!.name} in ${JSON.stringify(cap)}`,
        );
      }
    }
    // in buffer order, and the typed arrays cover exactly their regions
    const nonEmpty = regions.filter((r) => r.byteLength > 0);
    for (let i = 1; i < nonEmpty.length; i++) assert.ok(nonEmpty[i]!.byteOffset >= nonEmpty[i - 1]!.byteOffset);
    assert.ok(l.i32Length * 4 <= l.f64Start);
    assert.ok(l.f64Start + l.f64Length * 8 <= l.srcStart);
    assert.equal(l.bytes, l.srcStart + l.srcLength * 4);
  }
});

test('the float and per-source parts, stripes and source entries start on cache lines', () => {
  for (const cap of CAPACITIES) {
    const l = new Layout(cap);
    assert.equal(l.f64Start % CACHE_LINE, 0);
    assert.equal(l.srcStart % CACHE_LINE, 0);
    const byName = new Map(l.regions().map((r) => [r.name, r]));
    for (const name of ['backend stripes', 'listener stripes', 'worker stripes', 'source entries']) {
      assert.equal(byName.get(name)!.byteOffset % CACHE_LINE, 0, `${name} in ${JSON.stringify(cap)}`);
    }
    assert.equal(SourceEntry.Size * 4, CACHE_LINE, 'one source entry per cache line');
    if (l.sources > 0) assert.equal((l.srcStart + l.sourceEntry(1) * 4) % CACHE_LINE, 0);
  }
});

test('sizes for given capacities', () => {
  // i32: 16 header + 3 * 8 + 2 * 12 + 5 * 16 = 144 elements (576 bytes), floats from 576;
  // f64: 4 header, 5 * 12 backend floats, stripes from 64: 2 * 5 * 59 backend, from 656:
  // 2 * 3 * 29 listener, from 832 (whole cache lines): 2 * 16 worker, from 864: 2 * 2 * 2 pool = 872
  // elements; 576 + 6976 = 7552, a whole number of cache lines
  const small = new Layout({ workers: 2, listeners: 3, pools: 2, backends: 5 });
  assert.equal(BackendStripe.Size, 59);
  assert.equal(ListenerStripe.Size, 29);
  assert.equal(WorkerStripe.Size, 16);
  assert.equal(PoolStripe.Size, 2);
  assert.equal(small.f64Start, 576);
  assert.equal(small.f64Length, 872);
  assert.equal(small.bytes, 7552);
  assert.equal(small.srcLength, 0);
  // sources: 3 listeners * 4 rounded to 16, 1024 entries * 16, 2 workers * 1024 held counts
  const tracked = new Layout({ workers: 2, listeners: 3, pools: 2, backends: 5, sources: 1024 });
  assert.equal(tracked.srcStart, 7552);
  assert.equal(tracked.srcLength, 16 + 1024 * 16 + 2 * 1024);
  assert.equal(tracked.bytes, 7552 + (16 + 1024 * 16 + 2 * 1024) * 4);
  assert.equal(new Table({ workers: 2, listeners: 3, pools: 2, backends: 5, sources: 1024 }).byteLength, tracked.bytes);
});

test('every slot of a kind lies inside its region, one after the other', () => {
  const cap = { workers: 3, listeners: 4, pools: 3, backends: 6, sources: 64 };
  const l = new Layout(cap);
  const r = new Map(l.regions().map((x) => [x.name, x]));
  const inside = (name: string, byteOffset: number, byteLength: number): void => {
    const g = r.get(name)!;
    assert.ok(byteOffset >= g.byteOffset && byteOffset + byteLength <= g.byteOffset + g.byteLength, name);
  };
  const f64 = (at: number): number => l.f64Start + at * 8;
  const src = (at: number): number => l.srcStart + at * 4;
  for (let i = 0; i < cap.listeners; i++) {
    inside('listeners', l.listener(i) * 4, ListenerI32.Size * 4);
    inside('source listeners', src(l.sourceListener(i)), SourceListenerI32.Size * 4);
  }
  for (let i = 0; i < cap.pools; i++) inside('pools', l.pool(i) * 4, PoolI32.Size * 4);
  for (let i = 0; i < cap.backends; i++) {
    inside('backends', l.backend(i) * 4, BackendI32.Size * 4);
    inside('backend floats', f64(l.backendF64(i)), BackendF64.Size * 8);
  }
  const stripes: [number, number][] = [];
  for (let w = 0; w < cap.workers; w++) {
    inside('worker stripes', f64(l.workerStripe(w)), WorkerStripe.Size * 8);
    for (let i = 0; i < cap.backends; i++) {
      inside('backend stripes', f64(l.backendStripe(w, i)), BackendStripe.Size * 8);
      stripes.push([l.backendStripe(w, i), BackendStripe.Size]);
    }
    for (let i = 0; i < cap.listeners; i++) {
      inside('listener stripes', f64(l.listenerStripe(w, i)), ListenerStripe.Size * 8);
      stripes.push([l.listenerStripe(w, i), ListenerStripe.Size]);
    }
    for (let i = 0; i < cap.pools; i++) {
      inside('pool stripes', f64(l.poolStripe(w, i)), PoolStripe.Size * 8);
      stripes.push([l.poolStripe(w, i), PoolStripe.Size]);
    }
    for (let i = 0; i < cap.sources; i++) inside('source held', src(l.sourceHeld(w, i)), 4);
  }
  for (let i = 0; i < cap.sources; i++) inside('source entries', src(l.sourceEntry(i)), SourceEntry.Size * 4);
  inside('header', 0, HeaderI32.Size * 4);
  inside('header floats', f64(l.headerF64()), HeaderF64.Size * 8);
  // no two stripes share an element
  stripes.sort((a, b) => a[0] - b[0]);
  for (let k = 1; k < stripes.length; k++) assert.ok(stripes[k - 1]![0] + stripes[k - 1]![1] <= stripes[k]![0]);
});

test('every field index fits its slot, and stripes follow the name lists', () => {
  assert.ok(HeaderI32.LastReloadOk < HeaderI32.Size);
  assert.ok(HeaderF64.LastReloadTime < HeaderF64.Size);
  assert.ok(ListenerI32.MaxConnections < ListenerI32.Size);
  assert.ok(PoolI32.QueueSignal < PoolI32.Size);
  assert.ok(PoolStripe.QueueHead < PoolStripe.Size);
  assert.ok(BackendI32.Check < BackendI32.Size);
  assert.ok(BackendF64.CheckFailures < BackendF64.Size);
  assert.ok(BackendStripe.HistSum + HISTOGRAM_NAMES.length <= BackendStripe.HistConnect);
  assert.equal(BackendStripe.ConnectErrors + CONNECT_ERROR_REASONS.length, BackendStripe.Retries);
  assert.equal(histogramBase(Histogram.Connect), BackendStripe.HistConnect);
  assert.equal(histogramBase(Histogram.FirstByte), BackendStripe.HistConnect + LATENCY_BUCKETS.length + 1);
  assert.equal(histogramBase(Histogram.Duration), BackendStripe.HistFirstByte + LATENCY_BUCKETS.length + 1);
  assert.equal(histogramBase(Histogram.Duration) + DURATION_BUCKETS.length + 1, BackendStripe.Resets);
  assert.equal(BackendStripe.Resets + RESET_SIDES.length, BackendStripe.ResponseErrors);
  assert.equal(BackendStripe.ResponseErrors + RESPONSE_ERROR_REASONS.length, BackendStripe.Size);
  assert.equal(ListenerStripe.Protocol, ListenerStripe.Rejected + REJECT_REASONS.length);
  assert.equal(ListenerStripe.Protocol + PROTOCOLS.length, ListenerStripe.PeekMisses);
  assert.equal(ListenerStripe.PeekMisses + PEEK_MISS_REASONS.length, ListenerStripe.Resets);
  assert.equal(ListenerStripe.Resets + RESET_SIDES.length, ListenerStripe.Size);
  assert.ok(WorkerStripe.Starts < WorkerStripe.Size);
  assert.ok(SourceListenerI32.Degraded < SourceListenerI32.Size);
  assert.ok(SourceEntry.Key + KEY_WORDS <= SourceEntry.Active);
  assert.ok(SourceEntry.Rejected + SOURCE_REJECTS <= SourceEntry.Size);
});

test('a source table must be empty or a power of two up to the maximum', () => {
  const base = { workers: 1, listeners: 1, pools: 1, backends: 1 };
  assert.throws(() => new Layout({ ...base, sources: 1000 }), /power of two/);
  assert.throws(() => new Layout({ ...base, sources: MAX_SOURCE_ENTRIES * 2 }), /at most/);
  assert.equal(new Layout({ ...base, sources: 0 }).srcLength, 0);
});

test('a worker attaches to the main thread buffer only with the same capacity', () => {
  const cap = { workers: 2, listeners: 2, pools: 1, backends: 3 };
  const main = new Table(cap);
  assert.throws(() => new Table({ ...cap, backends: 4 }, main.buffer), /size mismatch/);
  assert.throws(() => new Table(cap, new SharedArrayBuffer(main.byteLength)), /bad magic/);
  const worker = new Table(cap, main.buffer);
  assert.equal(worker.header.startTime(), main.header.startTime());
});

test('fields written through the views of one table do not clobber each other', () => {
  const cap = { workers: 3, listeners: 4, pools: 3, backends: 5, sources: 16 };
  const main = new Table(cap);
  const worker = new Table(cap, main.buffer);
  main.header.setGeneration(7);
  for (let i = 0; i < cap.pools; i++) main.pools.init(i, 10 + i);
  for (let i = 0; i < cap.listeners; i++) main.listeners.init(i, 100 + i);
  for (let i = 0; i < cap.backends; i++) {
    main.backends.init(
      i,
      {
        pool: i % cap.pools,
        weight: 20 + i,
        maxConnections: 200 + i,
        backup: i % 2 === 1,
        generation: 7,
        op: OpState.Up,
      },
      1000 + i,
    );
  }
  // every worker counts on every slot, a different amount each
  for (let w = 0; w < cap.workers; w++) {
    worker.workers.beat(w, 5000 + w, w, w + 0.5, w + 0.25);
    for (let i = 0; i < cap.backends; i++) {
      for (let k = 0; k <= w + i; k++) worker.backendStats.countConnection(w, i);
      worker.backendStats.addBytesIn(w, i, 1000 * (w + 1) + i);
      worker.backendStats.observe(w, i, Histogram.Duration, 3000);
      assert.ok(worker.backends.acquire(w, i));
    }
    for (let i = 0; i < cap.listeners; i++) {
      assert.ok(worker.listeners.acquire(w, i));
      worker.listeners.addBytesOut(w, i, 10 * (w + 1) + i);
    }
  }
  main.backends.setAdminState(2, AdminState.Drain, Cause.Admin, 3000);
  assert.equal(worker.header.generation(), 7);
  for (let i = 0; i < cap.pools; i++) assert.equal(worker.pools.algorithm(i), 10 + i);
  for (let i = 0; i < cap.listeners; i++) {
    assert.equal(worker.listeners.maxConnections(i), 100 + i);
    assert.equal(main.listeners.active(i), cap.workers);
    const c = main.listeners.counters(i);
    assert.equal(c.accepted, cap.workers);
    assert.equal(c.bytesOut, 10 * (1 + 2 + 3) + cap.workers * i);
    assert.equal(main.sources.listenerStats(i).entries, 0);
  }
  for (let i = 0; i < cap.backends; i++) {
    assert.equal(worker.backends.weight(i), 20 + i);
    assert.equal(worker.backends.maxConnections(i), 200 + i);
    assert.equal(worker.backends.isBackup(i), i % 2 === 1);
    assert.equal(worker.backends.pool(i), i % cap.pools);
    assert.equal(worker.backends.adminState(i), i === 2 ? AdminState.Drain : AdminState.Ready);
    assert.equal(worker.backends.lastChange(i), i === 2 ? 3000 : 1000 + i);
    assert.equal(main.backends.active(i), cap.workers);
    const c = main.backendStats.counters(i);
    assert.equal(c.connections, 3 * (i + 1) + 3);
    assert.equal(c.bytesIn, 6000 + cap.workers * i);
    const h = main.backendStats.histogram(i, Histogram.Duration);
    assert.equal(h.count, cap.workers);
    assert.equal(h.counts[h.counts.length - 2], cap.workers, 'in the 3600 s bucket');
    assert.equal(main.backendStats.histogram(i, Histogram.Connect).count, 0);
  }
  for (let w = 0; w < cap.workers; w++) {
    const s = main.workers.stats(w);
    assert.deepEqual([s.heartbeat, s.loopLagMs, s.cpuUser, s.cpuSystem], [5000 + w, w, w + 0.5, w + 0.25]);
  }
  // a worker's death gives back exactly its own share
  main.releaseWorker(1);
  for (let i = 0; i < cap.backends; i++) assert.equal(main.backends.active(i), cap.workers - 1);
  for (let i = 0; i < cap.listeners; i++) assert.equal(main.listeners.active(i), cap.workers - 1);
});
