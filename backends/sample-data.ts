// GET /api/data bodies: valid JSON of (close to) a requested size, built once per
// size and cached, so a benchmark measures the network path rather than JSON.stringify.
import { MAX_DATA_SIZE } from './behaviour.js';

const cache = new Map<number, Buffer>();
const CACHE_LIMIT = 32;

export function sampleData(size: number): Buffer {
  const n = Math.min(Math.max(0, Math.floor(size)), MAX_DATA_SIZE);
  const hit = cache.get(n);
  if (hit) return hit;
  const body = build(n);
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(n, body);
  return body;
}

function build(size: number): Buffer {
  const items: string[] = [];
  let length = '{"items":[]}'.length;
  for (let i = 0; ; i++) {
    const item = JSON.stringify({ id: i, name: `item-${i}`, value: (i * 7919) % 1000, tags: ['sim', 'netmon'] });
    if (length + item.length + 1 > size) break;
    items.push(item);
    length += item.length + 1;
  }
  const json = `{"items":[${items.join(',')}]}`;
  // pad with a string field so the body reaches the requested size exactly when it can
  const pad = size - json.length - ',"pad":""'.length;
  if (pad >= 0) return Buffer.from(`{"items":[${items.join(',')}],"pad":"${'x'.repeat(pad)}"}`);
  return Buffer.from(json);
}
