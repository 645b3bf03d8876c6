/**
 * Downsampling blocks (src/compact/downsample): raw → 5m and 5m → 1h aggregates checked against a plain
 * per-window computation, the counter aggregate across resets and chunk boundaries, chunk sizing, the
 * new block's meta, and bad input.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';

import { STALE_NAN } from '../../src/model/value.js';
import { ValueType } from '../../src/storage/interface.js';
import { writeBlock } from '../../src/tsdb/block/index.js';
import {
  AggrType,
  CounterResetsIterator,
  ENCODING_AGGR,
  ENCODING_XOR,
  XorChunk,
  aggrIterator,
  encodeAggrChunk,
  aggrNumSamples,
  type CheckedIterator,
} from '../../src/tsdb/chunkenc/index.js';
import { RES_1H, RES_5M, SampleBuffer, downsampleBlock, downsampleRaw, windowEnd } from '../../src/compact/downsample/index.js';
import { createLogger } from '../../src/util/log.js';
import { rng } from '../support/random.js';
import { xorChunks } from '../support/blocks.js';
import { HOUR, MIN, adjustedCounter, expectedWindows, rawBlock, readBlockSeries, series, type RawSeries, type ReadChunk } from './downsample-support.js';

const root = mkdtempSync(join(tmpdir(), 'argus-downsample-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirSeq = 0;
const newDir = (): string => join(root, `d${dirSeq++}`);

/** Block start aligned to 2h, as Prometheus aligns blocks. */
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % (2 * HOUR));

function drain(it: CheckedIterator): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < 1_000_000 && it.next() !== ValueType.None; i++) out.push([it.atT(), it.atF()]);
  assert.equal(it.err(), null);
  return out;
}

function aggrSamples(chunks: readonly ReadChunk[], a: AggrType): [number, number][] {
  return chunks.flatMap((c) => drain(aggrIterator(c.bytes, a)));
}

/** A gauge over [from, to) at `step` with jitter, a gap, NaNs and stale markers. */
function gauge(seed: number, name: string, from: number, to: number, step: number): RawSeries {
  const r = rng(seed);
  const ts: number[] = [];
  const vs: number[] = [];
  const gapAt = from + Math.floor((to - from) * 0.37);
  for (let t = from + Math.floor(r() * 1000); t < to; t += step + Math.floor(r() * 2000) - 1000) {
    if (t >= gapAt && t < gapAt + 20 * MIN) continue;
    ts.push(t);
    const x = r();
    vs.push(x < 0.003 ? NaN : x < 0.006 ? STALE_NAN : Math.round((r() * 2000 - 1000) * 1e4) / 1e4 + r() * 1e-3);
  }
  const out = series({ __name__: name, job: 'gauges' }, ts, new Float64Array(vs));
  // Stale markers written through a plain array would lose their bits.
  for (let i = 0; i < ts.length; i++) if (vs[i] !== vs[i] && i % 2 === 0) out.vs[i] = STALE_NAN;
  return out;
}

/** An integer counter with resets (probability `resetP` per sample). */
function counter(seed: number, name: string, from: number, to: number, step: number, resetP: number): RawSeries {
  const r = rng(seed);
  const ts: number[] = [];
  const vs: number[] = [];
  let v = Math.floor(r() * 1000);
  for (let t = from + Math.floor(r() * 1000); t < to; t += step) {
    v = r() < resetP ? Math.floor(r() * 5) : v + Math.floor(r() * 20);
    ts.push(t);
    vs.push(v);
  }
  return series({ __name__: name, job: 'counters' }, ts, vs);
}

/** Checks count/sum/min/max samples of one series against plain windows at `res` (windows may be split at chunk ends). */
function checkGenericAggregates(s: RawSeries, chunks: readonly ReadChunk[], res: number, splitAllowed: boolean): void {
  const want = expectedWindows(s, res);
  const got = new Map<number, { count: number; sum: number; min: number; max: number; parts: number }>();
  const counts = aggrSamples(chunks, AggrType.Count);
  const sums = aggrSamples(chunks, AggrType.Sum);
  const mins = aggrSamples(chunks, AggrType.Min);
  const maxs = aggrSamples(chunks, AggrType.Max);
  assert.equal(sums.length, counts.length);
  assert.equal(mins.length, counts.length);
  assert.equal(maxs.length, counts.length);
  for (let i = 0; i < counts.length; i++) {
    const t = counts[i]![0];
    assert.equal(sums[i]![0], t);
    assert.equal(mins[i]![0], t);
    assert.equal(maxs[i]![0], t);
    const k = Math.floor(t / res);
    const w = want.get(k);
    assert.ok(w !== undefined, `aggregate at ${t} for window ${k} that holds no raw sample`);
    if (!splitAllowed) assert.ok(t === windowEnd(t, res) || t === w.lastT, `aggregate at ${t}: neither the window end ${windowEnd(t, res)} nor its last sample ${w.lastT}`);
    const g = got.get(k);
    if (g === undefined) got.set(k, { count: counts[i]![1], sum: sums[i]![1], min: mins[i]![1], max: maxs[i]![1], parts: 1 });
    else {
      assert.ok(splitAllowed, `window ${k} has two aggregate samples`);
      g.count += counts[i]![1];
      g.sum += sums[i]![1];
      g.min = Math.min(g.min, mins[i]![1]);
      g.max = Math.max(g.max, maxs[i]![1]);
      g.parts++;
    }
  }
  assert.deepEqual([...got.keys()].sort((a, b) => a - b), [...want.keys()].sort((a, b) => a - b), 'windows with samples');
  for (const [k, w] of want) {
    const g = got.get(k)!;
    assert.equal(g.count, w.count, `count of window ${k}`);
    assert.equal(g.sum, w.sum, `sum of window ${k}`);
    assert.equal(g.min, w.min, `min of window ${k}`);
    assert.equal(g.max, w.max, `max of window ${k}`);
  }
}

/** The counter read back across all chunks equals the reset-adjusted raw counter at each point. */
function checkCounter(s: RawSeries, chunks: readonly ReadChunk[]): [number, number][] {
  const adj = adjustedCounter(s);
  const got = drain(new CounterResetsIterator(chunks.map((c) => aggrIterator(c.bytes, AggrType.Counter))));
  assert.deepEqual(got[0], adj[0], 'the first counter sample is the first raw sample');
  let j = 0;
  for (const [t, v] of got) {
    while (j + 1 < adj.length && adj[j + 1]![0] <= t) j++;
    assert.equal(v, adj[j]![1], `counter at ${t}: want the adjusted total after the raw sample at ${adj[j]![0]}`);
  }
  assert.equal(got[got.length - 1]![0], adj[adj.length - 1]![0], 'the last counter sample is at the last raw sample');
  return got;
}

describe('downsampleBlock: raw → 5m', () => {
  test('count/sum/min/max per 5m window equal a plain computation; meta, chunk ranges and sizes as Thanos makes them', async () => {
    const dir = newDir();
    const input = [gauge(1, 'g', T0, T0 + 48 * HOUR, 15_000), gauge(2, 'h', T0 + 5 * HOUR, T0 + 30 * HOUR, 30_000), counter(3, 'c', T0, T0 + 48 * HOUR, 15_000, 0.002)];
    const raw = await rawBlock(dir, input, T0, T0 + 48 * HOUR, { labels: { cluster: 'eu', replica: 'a' }, downsample: { resolution: 0 }, source: 'sidecar', shard: 'x' });
    const logs: string[] = [];
    const meta = await downsampleBlock(join(dir, raw.ulid), RES_5M, dir, { logger: createLogger('info', {}, (l) => logs.push(l)) });
    assert.ok(meta !== null, 'a block was written');
    assert.match(logs.join(''), new RegExp(`msg="downsampled block" from=${raw.ulid} to=${meta.ulid} resolution=300000 series=3`));
    assert.equal(meta.minTime, raw.minTime);
    assert.equal(meta.maxTime, raw.maxTime);
    assert.deepEqual(meta.compaction, raw.compaction);
    assert.deepEqual(meta.thanos, { labels: { cluster: 'eu', replica: 'a' }, downsample: { resolution: RES_5M }, source: 'compactor', segment_files: ['000001'], shard: 'x' });

    const back = await readBlockSeries(join(dir, meta.ulid));
    assert.deepEqual(back.meta, meta);
    assert.equal(back.series.length, 3);
    let samples = 0;
    let chunks = 0;
    for (const s of back.series) {
      const src = input.find((x) => x.labels[1] === s.labels[1])!;
      checkGenericAggregates(src, s.chunks, RES_5M, false);
      for (const c of s.chunks) {
        assert.equal(c.encoding, ENCODING_AGGR);
        const cnt = drain(aggrIterator(c.bytes, AggrType.Count));
        assert.equal(c.minT, cnt[0]![0], 'chunk minT is its first window');
        assert.equal(c.maxT, cnt[cnt.length - 1]![0], 'chunk maxT is its last window');
        assert.ok(cnt.length <= 140, `${cnt.length} windows in one chunk`);
        // The counter's frame: first raw value at its own time, last raw value at the last window's time.
        const ctr = drain(aggrIterator(c.bytes, AggrType.Counter));
        const usable = src.ts.map((t, i) => [t, src.vs[i]!] as [number, number]).filter(([t, v]) => v === v && t >= c.minT - RES_5M && t <= c.maxT);
        const inChunk = usable.filter(([t]) => windowEnd(t, RES_5M) >= c.minT);
        assert.deepEqual(ctr[0], inChunk[0]);
        assert.deepEqual(ctr[ctr.length - 1], [c.maxT, inChunk[inChunk.length - 1]![1]]);
        assert.equal(ctr.length, cnt.length + 2);
        samples += aggrNumSamples(c.bytes);
      }
      chunks += s.chunks.length;
    }
    // 48h at 15s: 576 windows, spread over 5 chunks of <= 140 (Thanos's targetChunkCount).
    assert.equal(back.series.find((s) => s.labels[1] === 'c')!.chunks.length, 5);
    assert.deepEqual(meta.stats, { numSamples: samples, numSeries: 3, numChunks: chunks });
    assert.deepEqual(readdirSync(dir).sort(), [raw.ulid, meta.ulid].sort(), 'no temporary directory left');
  });

  test('counter aggregate keeps the reset-adjusted total through resets inside windows, between windows and at chunk boundaries', async () => {
    const dir = newDir();
    const c = counter(7, 'c', T0, T0 + 48 * HOUR, 15_000, 0.01);
    // Put a reset exactly on the first sample of the third chunk (chunk cuts depend on timestamps only).
    const buf = new SampleBuffer();
    for (let i = 0; i < c.ts.length; i++) buf.push(c.ts[i]!, c.vs[i]!);
    const pure = downsampleRaw(buf, RES_5M);
    const third = drain(aggrIterator(pure[2]!.bytes, AggrType.Counter))[0]![0];
    const at = c.ts.indexOf(third);
    assert.ok(at > 0, 'the third chunk starts at a raw sample');
    // From there on: start again at 1, keeping the original increments and resets.
    const orig = c.vs.slice();
    c.vs[at] = 1;
    for (let i = at + 1; i < c.ts.length; i++) c.vs[i] = orig[i]! >= orig[i - 1]! ? c.vs[i - 1]! + orig[i]! - orig[i - 1]! : orig[i]!;
    assert.ok(c.vs[at]! < c.vs[at - 1]!, 'a reset at the chunk boundary');

    const raw = await rawBlock(dir, [c], T0, T0 + 48 * HOUR);
    const meta = (await downsampleBlock(join(dir, raw.ulid), RES_5M, dir))!;
    const back = await readBlockSeries(join(dir, meta.ulid));
    const chunks = back.series[0]!.chunks;
    assert.equal(drain(aggrIterator(chunks[2]!.bytes, AggrType.Counter))[0]![0], third);
    const got = checkCounter(c, chunks);
    const adj = adjustedCounter(c);
    assert.equal(got[got.length - 1]![1], adj[adj.length - 1]![1]);
    // Each chunk's counter restarts from its first raw value: the chunk after the reset starts at 1.
    assert.deepEqual(drain(aggrIterator(chunks[2]!.bytes, AggrType.Counter))[0], [third, 1]);
  });

  test('downsampleRaw properties: every usable sample counted once, counter exact (random series)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 400_000 }), fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 30 })), { minLength: 1, maxLength: 400 }),
        fc.constantFrom(RES_5M, RES_1H),
        (steps, res) => {
          let t = T0;
          const ts: number[] = [];
          const vs: number[] = [];
          for (const [dt, v, kind] of steps) {
            t += dt;
            ts.push(t);
            vs.push(kind === 0 ? NaN : kind === 1 ? STALE_NAN : v);
          }
          const s = series({ __name__: 'p' }, ts, new Float64Array(vs));
          for (let i = 0; i < vs.length; i++) if (steps[i]![2] === 1) s.vs[i] = STALE_NAN;
          const buf = new SampleBuffer();
          for (let i = 0; i < ts.length; i++) buf.push(ts[i]!, s.vs[i]!);
          const out = downsampleRaw(buf, res);
          const chunks = out.map((c) => ({ ...c, encoding: ENCODING_AGGR }));
          if (adjustedCounter(s).length === 0) {
            assert.equal(out.length, 0);
            return;
          }
          checkGenericAggregates(s, chunks, res, false);
          checkCounter(s, chunks);
          for (let i = 1; i < out.length; i++) assert.ok(out[i]!.minT > out[i - 1]!.maxT, 'chunks do not overlap');
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('downsampleBlock: segment files', () => {
  test('series spread over many small input segments, output cut into several segments: same chunks as with one segment', async () => {
    const input = Array.from({ length: 6 }, (_, i) => counter(60 + i, `c${i}`, T0, T0 + 48 * HOUR, 30_000, 0.01));
    const one = newDir();
    const many = newDir();
    const a = await rawBlock(one, input, T0, T0 + 48 * HOUR);
    const b = await writeBlock(many, input.map((s) => ({ labels: s.labels, chunks: xorChunks(s) })), { minT: T0, maxT: T0 + 48 * HOUR, segmentSize: 8 * 1024 });
    assert.ok(readdirSync(join(many, b.ulid, 'chunks')).length > 5, 'many input segments');
    const ma = (await downsampleBlock(join(one, a.ulid), RES_5M, one))!;
    const mb = (await downsampleBlock(join(many, b.ulid), RES_5M, many, { segmentSize: 16 * 1024 }))!;
    const segs = readdirSync(join(many, mb.ulid, 'chunks')).sort();
    assert.ok(segs.length > 1, `${segs.length} output segments`);
    assert.deepEqual(mb.thanos?.segment_files, segs);
    assert.deepEqual((await readBlockSeries(join(many, mb.ulid))).series, (await readBlockSeries(join(one, ma.ulid))).series);
  });
});

describe('downsampleBlock: 5m → 1h', () => {
  test('1h aggregates from the 5m block equal the plain 1h computation over raw; counter exact', async () => {
    const dir = newDir();
    // A week: 168 hourly windows, more than one 1h chunk holds (so the chunk boundary is exercised).
    const span = 7 * 24 * HOUR;
    const g = counter(11, 'g', T0, T0 + span, 60_000, 0.5); // integer values, jumping: exact sums, varied min/max
    const c = counter(12, 'c', T0 + 3 * HOUR, T0 + span - 7 * HOUR, 30_000, 0.003);
    const raw = await rawBlock(dir, [g, c], T0, T0 + span);
    const m5 = (await downsampleBlock(join(dir, raw.ulid), RES_5M, dir))!;
    const m1 = (await downsampleBlock(join(dir, m5.ulid), RES_1H, dir))!;
    assert.equal(m1.thanos?.downsample?.resolution, RES_1H);
    assert.deepEqual(m1.compaction.sources, [raw.ulid]);
    assert.equal(m1.minTime, raw.minTime);
    assert.equal(m1.maxTime, raw.maxTime);
    const back = await readBlockSeries(join(dir, m1.ulid));
    for (const s of back.series) {
      const src = s.labels[1] === 'c' ? c : g;
      // 5m chunks are combined whole, so one 1h window can be split between two 1h chunks (as in Thanos).
      checkGenericAggregates(src, s.chunks, RES_1H, true);
      checkCounter(src, s.chunks);
      for (let i = 1; i < s.chunks.length; i++) assert.ok(s.chunks[i]!.minT > s.chunks[i - 1]!.maxT, `chunk ${i} overlaps the one before`);
      assert.ok(s.chunks.length >= 2, `${s.chunks.length} 1h chunks`);
    }
    const five = await readBlockSeries(join(dir, m5.ulid));
    assert.ok(back.series[0]!.chunks.length < five.series[0]!.chunks.length, 'fewer, fuller chunks at 1h');
    assert.equal(m1.stats.numSamples, back.series.reduce((n, s) => n + s.chunks.reduce((m, ch) => m + aggrNumSamples(ch.bytes), 0), 0));
  });

  test('raw XOR chunks inside a 5m block are aggregated to 5m first, empty ones skipped (Thanos does the same)', async () => {
    const dir = newDir();
    const c = counter(21, 'c', T0, T0 + 30 * HOUR, 60_000, 0.01);
    const empty = new XorChunk().bytes().slice();
    const chunks = [{ minT: T0, maxT: T0, bytes: empty }];
    const real = xorChunks(c).filter((x) => x.minT > T0);
    const logs: string[] = [];
    const meta = await writeBlock(dir, [{ labels: c.labels, chunks: [...chunks, ...real] }], {
      minT: T0,
      maxT: T0 + 30 * HOUR,
      thanos: { labels: {}, downsample: { resolution: RES_5M }, source: 'compactor' },
    });
    const m1 = (await downsampleBlock(join(dir, meta.ulid), RES_1H, dir, { logger: createLogger('info', {}, (l) => logs.push(l)) }))!;
    assert.match(logs.join(''), /empty XOR chunk in a downsampled block; skipped/);
    const kept = series({ __name__: 'c', job: 'counters' }, c.ts.filter((t) => t > T0), c.vs.filter((_, i) => c.ts[i]! > T0));
    const back = await readBlockSeries(join(dir, m1.ulid));
    checkGenericAggregates(kept, back.series[0]!.chunks, RES_1H, true);
    checkCounter(kept, back.series[0]!.chunks);
  });
});

describe('downsampleBlock: bad input', () => {
  test('a target not coarser than the block or aggregate chunks in a raw block: clear errors, nothing left behind; chunk data going back in time is dropped', async () => {
    const dir = newDir();
    const c = counter(31, 'c', T0, T0 + 3 * HOUR, 60_000, 0);
    const raw = await rawBlock(dir, [c], T0, T0 + 3 * HOUR);
    const m5 = (await downsampleBlock(join(dir, raw.ulid), RES_5M, dir))!;
    await assert.rejects(downsampleBlock(join(dir, m5.ulid), RES_5M, dir), /is at resolution 300000 ms, not finer than the target 300000 ms/);
    await assert.rejects(downsampleBlock(join(dir, raw.ulid), 0, dir), /resolution must be a positive number of milliseconds/);

    // Chunk data that goes back in time behind valid index ranges: the late samples are dropped.
    const ov = newDir();
    const x = xorOf([[T0, 1], [T0 + 60_000, 2]]);
    const y = xorOf([[T0 + 30_000, 3], [T0 + 90_000, 4]]);
    const ovMeta = await writeBlock(ov, [{ labels: c.labels, chunks: [{ minT: T0, maxT: T0 + 10_000, bytes: x }, { minT: T0 + 30_000, maxT: T0 + 90_000, bytes: y }] }], { minT: T0, maxT: T0 + HOUR });
    const ovOut = (await downsampleBlock(join(ov, ovMeta.ulid), RES_5M, ov))!;
    const ovChunks = (await readBlockSeries(join(ov, ovOut.ulid))).series[0]!.chunks;
    assert.deepEqual(aggrSamples(ovChunks, AggrType.Count), [[T0 + 90_000, 3]]);
    assert.deepEqual(aggrSamples(ovChunks, AggrType.Sum), [[T0 + 90_000, 7]]);

    const bad = newDir();
    const m5data = await readBlockSeries(join(dir, m5.ulid));
    const badMeta = await writeBlock(bad, [{ labels: c.labels, chunks: m5data.series[0]!.chunks.map((ch) => ({ minT: ch.minT, maxT: ch.maxT, bytes: ch.bytes, encoding: ENCODING_AGGR })) }], { minT: T0, maxT: T0 + 3 * HOUR });
    await assert.rejects(downsampleBlock(join(bad, badMeta.ulid), RES_5M, bad), /chunk 0 is an aggregate chunk, but the block's meta says it holds raw data \(resolution 0\)/);
    assert.deepEqual(readdirSync(bad), [badMeta.ulid], 'the failed attempt left nothing');
  });

  test('a block whose samples are all NaN or stale gives null and writes nothing', async () => {
    const dir = newDir();
    const s = series({ __name__: 'n' }, [T0, T0 + 60_000, T0 + 120_000], new Float64Array([NaN, STALE_NAN, NaN]));
    s.vs[1] = STALE_NAN;
    const raw = await rawBlock(dir, [s], T0, T0 + HOUR);
    assert.equal(await downsampleBlock(join(dir, raw.ulid), RES_5M, dir), null);
    assert.deepEqual(readdirSync(dir), [raw.ulid]);
  });

  test('an abort between series removes the partial block', async () => {
    const dir = newDir();
    const input = Array.from({ length: 30 }, (_, i) => counter(40 + i, `c${i}`, T0, T0 + 6 * HOUR, 60_000, 0));
    const raw = await rawBlock(dir, input, T0, T0 + 6 * HOUR);
    const ac = new AbortController();
    ac.abort(new Error('stop requested by the test'));
    await assert.rejects(downsampleBlock(join(dir, raw.ulid), RES_5M, dir, { signal: ac.signal }), /stop requested by the test/);
    assert.deepEqual(readdirSync(dir), [raw.ulid]);
  });

  test('a corrupt chunk in the source names the block, the series and the chunk', async () => {
    const dir = newDir();
    const c = counter(50, 'c', T0, T0 + 3 * HOUR, 60_000, 0);
    const chunks = xorChunks(c);
    chunks[1] = { ...chunks[1]!, bytes: chunks[1]!.bytes.slice(0, 10) };
    const meta = await writeBlock(dir, [{ labels: c.labels, chunks }], { minT: T0, maxT: T0 + 3 * HOUR });
    await assert.rejects(downsampleBlock(join(dir, meta.ulid), RES_5M, dir), new RegExp(`block ${meta.ulid} series \\d+ \\{__name__="c", job="counters"\\} chunk 1: .+`));
  });
});

describe('downsampleBlock: fuzzed chunk data', () => {
  /** Garbage chunk data behind valid CRCs and index entries: it reaches the decoders. */
  async function garbageBlock(chunkData: Uint8Array[][], encoding: number, resolution: number): Promise<{ dir: string; ulid: string }> {
    const dir = newDir();
    const input = chunkData.map((cs, k) => ({
      labels: series({ __name__: 'f', k: String(k) }, [], []).labels,
      chunks: cs.map((bytes, i) => ({ minT: T0 + i * HOUR, maxT: T0 + i * HOUR + 30 * MIN, bytes, encoding })),
    }));
    const m = await writeBlock(dir, input, { minT: T0, maxT: T0 + 12 * HOUR, thanos: { labels: {}, downsample: { resolution }, source: 'compactor' } });
    return { dir, ulid: m.ulid };
  }

  // Valid XOR chunks with a few bytes changed, or plain random bytes.
  const flipsArb = fc.option(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }), { nil: [], freq: 2 });
  const samplesArb = fc.array(fc.tuple(fc.integer({ min: 1, max: 120_000 }), fc.integer({ min: -1000, max: 1000 })), { minLength: 1, maxLength: 40 });
  const flipped = (steps: [number, number][], flips: [number, number][]): Uint8Array => {
    let t = T0;
    const b = xorOf(steps.map(([dt, v]): [number, number] => [(t += dt), v]));
    for (const [at, x] of flips) b[2 + (at % Math.max(1, b.length - 2))] = x;
    return b;
  };
  const xorArb = fc.oneof(
    { arbitrary: fc.tuple(samplesArb, flipsArb).map(([s, f]) => flipped(s, f)), weight: 4 },
    { arbitrary: fc.uint8Array({ minLength: 2, maxLength: 200 }), weight: 1 },
  );
  const aggrArb = fc.oneof(
    {
      arbitrary: fc.tuple(samplesArb, fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }), flipsArb).map(([s, present, f]) =>
        encodeAggrChunk(present.map((p, i) => (p || i === 0 ? { encoding: ENCODING_XOR, bytes: flipped(s, i === 1 ? f : []) } : null))),
      ),
      weight: 4,
    },
    { arbitrary: fc.uint8Array({ minLength: 2, maxLength: 200 }), weight: 1 },
  );
  const blockOf = (chunk: fc.Arbitrary<Uint8Array>) => fc.array(fc.array(chunk, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 });

  async function outcome(dir: string, ulid: string, res: number): Promise<string> {
    try {
      const m = await downsampleBlock(join(dir, ulid), res, dir);
      if (m !== null) await readBlockSeries(join(dir, m.ulid));
      return 'ok';
    } catch (e) {
      // A clear error: a plain Error naming the block and series, not a crash of the decoder.
      assert.ok(e instanceof Error && !(e instanceof TypeError), String(e));
      assert.match(e.message, new RegExp(`^block ${ulid} series \\d+ \\{__name__="f", k="\\d"\\}(:| chunk \\d+:|, input chunks \\d+\\.\\.\\d+:) \\S`), e.message);
      return 'error';
    } finally {
      assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp-for-creation')), []);
    }
  }

  test('random XOR bytes in a raw block and random aggregate bytes in a 5m block: success or a clear error naming the series', async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(blockOf(xorArb), blockOf(aggrArb), async (rawData, aggrData) => {
        const raw = await garbageBlock(rawData, 1, 0);
        seen.add(`raw ${await outcome(raw.dir, raw.ulid, RES_5M)}`);
        const aggr = await garbageBlock(aggrData, ENCODING_AGGR, RES_5M);
        seen.add(`5m ${await outcome(aggr.dir, aggr.ulid, RES_1H)}`);
      }),
      { numRuns: 30 },
    );
    // Both paths met input they accepted and input they rejected.
    assert.deepEqual([...seen].sort(), ['5m error', '5m ok', 'raw error', 'raw ok'], [...seen].join(', '));
  });
});

function xorOf(samples: [number, number][]): Uint8Array {
  const c = new XorChunk();
  const app = c.appender();
  for (const [t, v] of samples) app.append(t, v);
  return c.bytes().slice();
}
