// The strict exposition parser the scrape tests rely on rejects what Prometheus rejects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePromText, sampleValue } from './prom-text.js';

test('parser accepts a well-formed exposition and reads escaped labels', () => {
  const fams = parsePromText(
    [
      '# HELP a_total A counter.',
      '# TYPE a_total counter',
      'a_total{x="q\\"\\\\\\n",y="2"} 3',
      '# TYPE h histogram',
      'h_bucket{le="1"} 1',
      'h_bucket{le="+Inf"} 2',
      'h_sum 4.5',
      'h_count 2',
      '',
    ].join('\n'),
  );
  assert.equal(sampleValue(fams, 'a_total', { x: 'q"\\\n', y: '2' }), 3);
  assert.equal(sampleValue(fams, 'h_count', {}), 2);
});

test('parser rejects malformed expositions', () => {
  const bad: [string, RegExp][] = [
    ['x 1\n', /no # TYPE/],
    ['# TYPE x gauge\nx 1\nx 2\n', /duplicate series/],
    ['# TYPE x gauge\nx{a="\\t"} 1\n', /bad escape/],
    ['# TYPE x gauge\nx{1a="b"} 1\n', /bad label name/],
    ['# TYPE x gauge\nx one\n', /bad value/],
    ['# TYPE x counter\nx -1\n', /counter/],
    ['# TYPE x gauge\nx 1', /newline/],
    ['# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', /cumulative/],
    ['# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n', /_count/],
  ];
  for (const [text, err] of bad) assert.throws(() => parsePromText(text), err, JSON.stringify(text));
});
