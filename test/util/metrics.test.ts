/** Histograms read at collect time (`histogramFrom` over `BucketCounts`): exposition text and promtool. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Registry } from 'prom-client';
import { BucketCounts, histogramFrom } from '../../src/util/metrics.js';
import { requirePeer } from '../support/peers.js';

function registryWith(sources: Map<string, BucketCounts>): Registry {
  const r = new Registry();
  histogramFrom(r, 'x_request_duration_seconds', 'How long requests took.', ['queue'], (emit) => {
    for (const [queue, h] of sources) emit({ queue }, h);
  });
  return r;
}

test('BucketCounts: an observation lands in the first bucket whose bound is >= it; +Inf takes the rest', () => {
  const h = new BucketCounts([0.1, 1]);
  for (const v of [0, 0.1, 0.1000001, 1, 5, Infinity]) h.observe(v);
  assert.deepEqual([...h.counts], [2, 2, 2]);
  assert.equal(h.count, 6);
  assert.throws(() => new BucketCounts([1, 1]), /must increase/);
});

test('histogramFrom: cumulative buckets, sum and count per series; series come and go with their source', async () => {
  const a = new BucketCounts([0.5, 2]);
  a.observe(0.25);
  a.observe(1);
  a.observe(3);
  const sources = new Map([['a', a]]);
  const r = registryWith(sources);
  assert.equal(
    await r.metrics(),
    [
      '# HELP x_request_duration_seconds How long requests took.',
      '# TYPE x_request_duration_seconds histogram',
      'x_request_duration_seconds_bucket{queue="a",le="0.5"} 1',
      'x_request_duration_seconds_bucket{queue="a",le="2"} 2',
      'x_request_duration_seconds_bucket{queue="a",le="+Inf"} 3',
      'x_request_duration_seconds_sum{queue="a"} 4.25',
      'x_request_duration_seconds_count{queue="a"} 3',
      '',
    ].join('\n'),
  );
  sources.clear();
  assert.doesNotMatch(await r.metrics(), /_bucket/, 'a source gone takes its series with it');
});

test('histogramFrom: promtool check metrics accepts the exposition', async (t) => {
  const promtool = requirePeer(t, 'promtool');
  if (promtool === null) return;
  const h = new BucketCounts();
  for (let i = 0; i < 100; i++) h.observe(i / 37);
  const text = await registryWith(new Map([['q1', h], ['q2', new BucketCounts()]])).metrics();
  const res = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
  assert.equal(res.status, 0, `promtool: ${res.stdout}${res.stderr}\n${text}`);
});
