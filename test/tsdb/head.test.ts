import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Head, drain } from '../../src/tsdb/head/index.js';
import { Matcher, MatchType } from '../../src/model/matcher.js';
import { labelsFromObject, type Labels } from '../../src/model/labels.js';
import { STALE_NAN, isStaleNaN } from '../../src/model/value.js';
import { StorageError } from '../../src/storage/errors.js';

const made: string[] = [];
after(() => Promise.all(made.map((d) => rm(d, { recursive: true, force: true }))));

async function tmpDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'argus-head-'));
  made.push(d);
  return d;
}

const L = (o: Record<string, string>) => labelsFromObject(o);
const eq = (n: string, v: string) => new Matcher(MatchType.Equal, n, v);

async function samples(head: Head, ms: Matcher[], start = -Infinity, end = Infinity) {
  const out: { labels: Labels; ts: number[]; vs: number[] }[] = [];
  for await (const s of head.querier().select({ start, end }, ms)) {
    const { ts, vs } = drain(s.iterator());
    out.push({ labels: s.labels, ts: [...ts], vs: [...vs] });
  }
  return out;
}

test('appends are visible after commit, across chunk cuts', async () => {
  const head = new Head('t');
  const app = head.appender();
  for (let i = 0; i < 1000; i++) app.append(0, L({ __name__: 'up', job: 'a' }), i * 15_000, i);
  assert.equal((await samples(head, [eq('__name__', 'up')])).length, 0, 'nothing visible before commit');
  await app.commit();
  const got = await samples(head, [eq('__name__', 'up')]);
  assert.equal(got.length, 1);
  assert.equal(got[0]!.ts.length, 1000);
  assert.deepEqual(got[0]!.vs.slice(0, 5), [0, 1, 2, 3, 4]);
  assert.ok(head.stats().chunks >= 9, 'chunks are cut at 120 samples');
  const window = await samples(head, [eq('__name__', 'up')], 15_000 * 10, 15_000 * 20);
  assert.deepEqual(window[0]!.vs, [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
});

test('postings select with every matcher type, including ones matching the empty value', async () => {
  const head = new Head('t');
  const app = head.appender();
  const series: Record<string, string>[] = [
    { __name__: 'm', a: '1', b: 'x' },
    { __name__: 'm', a: '2' },
    { __name__: 'm', a: '3', b: 'y' },
    { __name__: 'n', a: '1' },
  ];
  for (const s of series) app.append(0, L(s), 1000, 1);
  await app.commit();
  const names = async (...ms: Matcher[]) => (await samples(head, ms)).map((s) => s.labels.join(','));
  assert.deepEqual(await names(eq('__name__', 'm')), ['__name__,m,a,1,b,x', '__name__,m,a,2', '__name__,m,a,3,b,y']);
  assert.deepEqual(await names(eq('__name__', 'm'), new Matcher(MatchType.NotEqual, 'b', 'x')), ['__name__,m,a,2', '__name__,m,a,3,b,y']);
  assert.deepEqual(await names(eq('__name__', 'm'), eq('b', '')), ['__name__,m,a,2']);
  assert.deepEqual(await names(new Matcher(MatchType.Regexp, 'a', '1|3')), ['__name__,m,a,1,b,x', '__name__,m,a,3,b,y', '__name__,n,a,1']);
  assert.deepEqual(await names(eq('__name__', 'm'), new Matcher(MatchType.NotRegexp, 'b', '.+')), ['__name__,m,a,2']);
  assert.deepEqual(await names(new Matcher(MatchType.Regexp, 'b', '.*'), eq('a', '1')), ['__name__,m,a,1,b,x', '__name__,n,a,1']);
  const q = head.querier();
  assert.deepEqual(await q.labelNames({ start: 0, end: 2000 }, []), ['__name__', 'a', 'b']);
  assert.deepEqual(await q.labelValues('a', { start: 0, end: 2000 }, [eq('__name__', 'm')]), ['1', '2', '3']);
  assert.deepEqual(await q.labelValues('b', { start: 0, end: 2000 }, []), ['x', 'y']);
});

test('out-of-order, duplicate and too-old samples follow Prometheus rules', async () => {
  const head = new Head('t', { outOfOrderWindowMs: 0 });
  const ls = L({ __name__: 'x' });
  let app = head.appender();
  app.append(0, ls, 10_000, 1);
  await app.commit();
  app = head.appender();
  assert.throws(() => app.append(0, ls, 5_000, 2), (e: unknown) => e instanceof StorageError && e.kind === 'out_of_order');
  app.append(0, ls, 10_000, 1); // identical duplicate: ignored
  assert.throws(() => app.append(0, ls, 10_000, 7), (e: unknown) => e instanceof StorageError && e.kind === 'duplicate_timestamp');
  await app.commit();

  head.opts.outOfOrderWindowMs = 6_000;
  app = head.appender();
  app.append(0, ls, 5_000, 2);
  assert.throws(() => app.append(0, ls, 1_000, 3), (e: unknown) => e instanceof StorageError && e.kind === 'too_old');
  app.append(0, ls, 20_000, 4);
  await app.commit();
  const got = await samples(head, [eq('__name__', 'x')]);
  assert.deepEqual(got[0]!.ts, [5_000, 10_000, 20_000]);
  assert.deepEqual(got[0]!.vs, [2, 1, 4]);
});

test('stale markers keep their exact NaN bits through the head and the WAL', async () => {
  const dir = await tmpDir();
  const { head } = await Head.open('t', join(dir, 'wal'));
  const app = head.appender();
  app.append(0, L({ __name__: 's' }), 1000, 1);
  app.append(0, L({ __name__: 's' }), 2000, STALE_NAN);
  app.append(0, L({ __name__: 's' }), 3000, NaN);
  await app.commit();
  await head.close();
  const { head: h2, report } = await Head.open('t', join(dir, 'wal'));
  assert.equal(report.truncated, null);
  const got = await samples(h2, [eq('__name__', 's')]);
  assert.equal(got[0]!.vs.length, 3);
  assert.equal(isStaleNaN(got[0]!.vs[1]!), true);
  assert.equal(Number.isNaN(got[0]!.vs[2]!) && !isStaleNaN(got[0]!.vs[2]!), true);
  await h2.close();
});

test('WAL replay restores series refs, samples and out-of-order data', async () => {
  const dir = await tmpDir();
  const { head } = await Head.open('t', join(dir, 'wal'), { outOfOrderWindowMs: 60_000 });
  for (let r = 0; r < 5; r++) {
    const app = head.appender();
    for (let s = 0; s < 50; s++) app.append(0, L({ __name__: 'm', i: String(s) }), r * 1000 + 10_000, r * s);
    await app.commit();
  }
  const app = head.appender();
  app.append(0, L({ __name__: 'm', i: '0' }), 500, -1); // out of order, within the window
  await app.commit();
  const before = await samples(head, [eq('__name__', 'm')]);
  await head.close();
  const { head: h2 } = await Head.open('t', join(dir, 'wal'), { outOfOrderWindowMs: 60_000 });
  assert.deepEqual(await samples(h2, [eq('__name__', 'm')]), before);
  assert.equal(h2.numSeries(), 50);
  assert.deepEqual(before.find((s) => s.labels.join() === '__name__,m,i,0')!.ts, [500, 10_000, 11_000, 12_000, 13_000, 14_000]);
  // New series after replay get fresh refs (no collision with replayed ones).
  const a2 = h2.appender();
  a2.append(0, L({ __name__: 'new' }), 1, 1);
  await a2.commit();
  assert.equal(h2.numSeries(), 51);
  await h2.close();
});

test('the series limit rejects new series with the limit named, existing ones still append', async () => {
  const head = new Head('t', { maxSeries: 2 });
  const app = head.appender();
  app.append(0, L({ __name__: 'a' }), 1, 1);
  app.append(0, L({ __name__: 'b' }), 1, 1);
  assert.throws(() => app.append(0, L({ __name__: 'c' }), 1, 1), /max_global_series_per_user=2/);
  app.append(0, L({ __name__: 'a' }), 2, 1);
  await app.commit();
  assert.equal(head.numSeries(), 2);
});
