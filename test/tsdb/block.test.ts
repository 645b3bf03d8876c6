/**
 * Blocks written by writeBlock and read back by openBlock: samples bit for bit (stale NaN included), labels,
 * matchers, ranges, segment cutting, tombstones, meta.json, ULIDs, input validation; and a bounded fuzz of
 * the index, chunk, meta and tombstone readers (bad input is a clear Error, never a crash or a hang).
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { compareLabels, labelsFromObject, type Labels } from '../../src/model/labels.js';
import { Matcher, MatchType } from '../../src/model/matcher.js';
import { STALE_NAN } from '../../src/model/value.js';
import { ValueType, type Querier } from '../../src/storage/interface.js';
import { Head } from '../../src/tsdb/head/index.js';
import {
  BlockFormatError,
  ChunkReader,
  IndexReader,
  compareUtf8,
  decodeMeta,
  decodeTombstones,
  encodeMeta,
  encodeTombstones,
  encodeUlid,
  isUlid,
  newUlid,
  openBlock,
  parseUlid,
  ulidTime,
  writeBlock,
  type BlockSeriesInput,
} from '../../src/tsdb/block/index.js';
import { toChunks } from '../support/blocks.js';
import { bits, fromBits, rng } from '../support/random.js';

// ---------------------------------------------------------------------------------------------------------
// helpers

const root = mkdtempSync(join(tmpdir(), 'argus-block-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirSeq = 0;
const freshDir = (): string => join(root, `d${dirSeq++}`);


interface Sampled {
  labels: Labels;
  /** Values stay in Float64Arrays: plain arrays would quiet the stale NaN. */
  ts: Float64Array;
  vs: Float64Array;
}

const SPECIALS = [
  STALE_NAN,
  fromBits(0x7ff80000, 0x00000001), // Go's math.NaN()
  fromBits(0xfff12345, 0x6789abcd), // a negative NaN with a payload
  Infinity,
  -Infinity,
  -0,
  5e-324,
  Number.MAX_VALUE,
  -Number.MIN_VALUE,
];

const VALUES = ['a', 'b', 'é', 'Ａ', '😀', 'x"y\\z', 'line\nbreak', 'ünï', '\u{10000}', '\uffff'];

/** Many series with irregular timestamps, several value kinds and the special floats. */
function generate(seed: number, nSeries: number, maxSamples: number, t0: number): Sampled[] {
  const r = rng(seed);
  const out: Sampled[] = [];
  const seen = new Set<string>();
  while (out.length < nSeries) {
    const obj: Record<string, string> = {};
    if (r() < 0.97) obj.__name__ = `metric_${Math.floor(r() * 12)}`;
    obj.job = `job${Math.floor(r() * 4)}`;
    obj.instance = `host-${Math.floor(r() * 50)}:9100`;
    if (r() < 0.3) obj.mode = VALUES[Math.floor(r() * VALUES.length)]!;
    if (r() < 0.1) obj.zz_extra = String(Math.floor(r() * 1000));
    const labels = labelsFromObject(obj);
    const key = labels.join('\xff');
    if (seen.has(key)) continue;
    seen.add(key);
    const n = 1 + Math.floor(r() * maxSamples);
    const ts = new Float64Array(n);
    const vs = new Float64Array(n);
    let t = t0 + Math.floor(r() * 30_000);
    const kind = Math.floor(r() * 4);
    let acc = 0;
    for (let i = 0; i < n; i++) {
      ts[i] = t;
      t += r() < 0.9 ? 15_000 : 1 + Math.floor(r() * 200_000);
      if (kind === 0) vs[i] = acc += Math.floor(r() * 100);
      else if (kind === 1) vs[i] = r() * 1e6 - 5e5;
      else if (kind === 2) vs[i] = fromBits(Math.floor(r() * 0x100000000), Math.floor(r() * 0x100000000));
      else vs[i] = 42;
      if (r() < 0.03) vs[i] = SPECIALS[Math.floor(r() * SPECIALS.length)]!;
    }
    if (n > 2) vs[n - 1] = STALE_NAN;
    out.push({ labels, ts, vs });
  }
  return out;
}

function rangeOf(data: Sampled[]): { minT: number; maxT: number } {
  let minT = Infinity;
  let maxT = -Infinity;
  for (const s of data) {
    minT = Math.min(minT, s.ts[0]!);
    maxT = Math.max(maxT, s.ts[s.ts.length - 1]!);
  }
  return { minT, maxT: maxT + 1 };
}

interface Read {
  labels: Labels;
  ts: number[];
  vs: Float64Array;
}

async function readAll(
  q: Querier,
  matchers: Matcher[],
  start = -Infinity,
  end = Infinity,
  limit?: number,
): Promise<Read[]> {
  const out: Read[] = [];
  for await (const s of q.select({ start, end, limit }, matchers)) {
    const it = s.iterator();
    const ts: number[] = [];
    const vs = new Float64Array(1 << 16);
    while (it.next() !== ValueType.None) {
      vs[ts.length] = it.atF();
      ts.push(it.atT());
    }
    out.push({ labels: s.labels, ts, vs: vs.slice(0, ts.length) });
  }
  return out;
}

/** What a correct reader returns: matching series in model order, samples clipped to [start, end]. */
function expected(data: Sampled[], matchers: Matcher[], start = -Infinity, end = Infinity): Read[] {
  const out: Read[] = [];
  for (const s of data) {
    if (!matchers.every((m) => m.matchesLabels(s.labels))) continue;
    const ts: number[] = [];
    const vs = new Float64Array(s.ts.length);
    for (let i = 0; i < s.ts.length; i++) {
      if (s.ts[i]! < start || s.ts[i]! > end) continue;
      vs[ts.length] = s.vs[i]!;
      ts.push(s.ts[i]!);
    }
    // A series comes back when one of its chunks overlaps the range, even with no sample inside it;
    // assertSame compares only series with samples.
    out.push({ labels: s.labels, ts, vs: vs.slice(0, ts.length) });
  }
  return out.sort((a, b) => compareLabels(a.labels, b.labels));
}

function assertSame(got: Read[], want: Read[], what: string): void {
  const g = got.filter((s) => s.ts.length > 0);
  const w = want.filter((s) => s.ts.length > 0);
  assert.equal(g.length, w.length, `${what}: series count`);
  for (let i = 0; i < w.length; i++) {
    assert.deepEqual(g[i]!.labels, w[i]!.labels, `${what}: labels of series ${i}`);
    assert.deepEqual(g[i]!.ts, w[i]!.ts, `${what}: timestamps of ${w[i]!.labels.join(',')}`);
    for (let j = 0; j < w[i]!.vs.length; j++) {
      if (bits(g[i]!.vs[j]!) !== bits(w[i]!.vs[j]!)) {
        assert.fail(`${what}: value bits of ${w[i]!.labels.join(',')} at ${w[i]!.ts[j]}: ${bits(g[i]!.vs[j]!)} != ${bits(w[i]!.vs[j]!)}`);
      }
    }
  }
}

const eq = (n: string, v: string) => new Matcher(MatchType.Equal, n, v);
const neq = (n: string, v: string) => new Matcher(MatchType.NotEqual, n, v);
const re = (n: string, v: string) => new Matcher(MatchType.Regexp, n, v);
const nre = (n: string, v: string) => new Matcher(MatchType.NotRegexp, n, v);

// ---------------------------------------------------------------------------------------------------------
// round trip

describe('writeBlock → openBlock', () => {
  const T0 = 1_700_000_000_000;
  const data = generate(7, 1500, 400, T0);
  const range = rangeOf(data);
  let dir = '';
  let block: Awaited<ReturnType<typeof openBlock>>;

  test('writes the block layout and meta.json', async () => {
    dir = freshDir();
    const meta = await writeBlock(dir, data.map((s) => toChunks(s)), { ...range, thanos: { labels: { replica: 'a' }, source: 'receive' } });
    const blockDir = join(dir, meta.ulid);
    assert.deepEqual(readdirSync(dir), [meta.ulid], 'only the final directory remains');
    assert.deepEqual(readdirSync(blockDir).sort(), ['chunks', 'index', 'meta.json', 'tombstones']);
    assert.deepEqual(readdirSync(join(blockDir, 'chunks')), ['000001']);
    assert.deepEqual([...readFileSync(join(blockDir, 'tombstones'))], [0x01, 0x30, 0xba, 0x30, 0x01, 0, 0, 0, 0]);
    let samples = 0;
    let chunks = 0;
    for (const s of data) {
      samples += s.ts.length;
      chunks += Math.ceil(s.ts.length / 120);
    }
    assert.deepEqual(meta.stats, { numSamples: samples, numSeries: data.length, numChunks: chunks });
    assert.deepEqual(meta.compaction, { level: 1, sources: [meta.ulid] });
    const text = readFileSync(join(blockDir, 'meta.json'), 'utf8');
    assert.ok(text.startsWith(`{\n\t"ulid": "${meta.ulid}",\n\t"minTime": ${range.minT},\n\t"maxTime": ${range.maxT},\n\t"stats": {`));
    assert.deepEqual(decodeMeta(text), meta);
    block = await openBlock(blockDir);
    assert.deepEqual(block.meta, meta);
    assert.deepEqual(block.meta.thanos, { labels: { replica: 'a' }, source: 'receive' });
  });

  test('every sample comes back bit for bit, series sorted by labels', async () => {
    const got = await readAll(block.querier(), []);
    assertSame(got, expected(data, []), 'all series');
    for (let i = 1; i < got.length; i++) assert.ok(compareLabels(got[i - 1]!.labels, got[i]!.labels) < 0, 'sorted');
    const staleSeen = got.filter((s) => s.vs.length > 2 && bits(s.vs[s.vs.length - 1]!) === '7ff0000000000002').length;
    assert.ok(staleSeen > 1000, `stale markers survive (${staleSeen})`);
  });

  test('symbols and postings are sorted by UTF-8 bytes', () => {
    const syms = block.index.symbols;
    for (let i = 1; i < syms.length; i++) assert.ok(compareUtf8(syms[i - 1]!, syms[i]!) < 0, `symbol order at ${i}`);
    assert.ok(syms.includes('😀') && syms.includes('Ａ'));
    // UTF-8 puts U+FF21 before U+1F600; UTF-16 code units would put the emoji first.
    assert.ok(syms.indexOf('Ａ') < syms.indexOf('😀'));
    const all = block.index.allPostings();
    assert.equal(all.length, data.length);
  });

  test('matchers of every kind select exactly what a label filter selects', async () => {
    const q = block.querier();
    const cases: Matcher[][] = [
      [eq('__name__', 'metric_3')],
      [eq('__name__', 'metric_3'), eq('job', 'job1')],
      [neq('job', 'job1')],
      [re('instance', 'host-1.*')],
      [nre('instance', 'host-1.*'), eq('job', 'job0')],
      [eq('mode', '')],
      [neq('mode', '')],
      [re('mode', '.*')],
      [re('mode', '.+')],
      [eq('mode', '😀')],
      [eq('mode', 'line\nbreak')],
      [eq('__name__', '')],
      [eq('nope', 'x')],
      [eq('__name__', 'metric_1'), nre('zz_extra', '.+')],
    ];
    for (const ms of cases) assertSame(await readAll(q, ms), expected(data, ms), ms.join(','));
  });

  test('samples are limited to the select range; limit caps the series', async () => {
    const q = block.querier();
    const start = T0 + 600_000;
    const end = T0 + 1_800_000;
    assertSame(await readAll(q, [], start, end), expected(data, [], start, end), 'range');
    const limited = await readAll(q, [], -Infinity, Infinity, 10);
    assert.equal(limited.length, 10);
    assert.deepEqual(
      limited.map((s) => s.labels),
      expected(data, []).slice(0, 10).map((s) => s.labels),
    );
    assert.equal((await readAll(q, [], range.maxT, range.maxT + 1000)).length, 0, 'maxTime is exclusive');
    assert.equal((await readAll(q, [], 0, range.minT - 1)).length, 0);
  });

  test('seek works across chunk boundaries', async () => {
    const s = data.find((x) => x.ts.length > 300)!;
    for await (const got of block.querier().select({ start: -Infinity, end: Infinity }, [eq('instance', s.labels[s.labels.indexOf('instance') + 1]!)])) {
      if (got.labels.join() !== s.labels.join()) continue;
      const it = got.iterator();
      assert.equal(it.seek(s.ts[250]! - 1), ValueType.Float);
      assert.equal(it.atT(), s.ts[250]);
      assert.equal(it.seek(s.ts[10]!), ValueType.Float, 'seek never moves backwards');
      assert.equal(it.atT(), s.ts[250]);
      assert.equal(it.next(), ValueType.Float);
      assert.equal(it.atT(), s.ts[251]);
    }
  });

  test('label names and values, with and without matchers', async () => {
    const q = block.querier();
    const all = { start: -Infinity, end: Infinity };
    const names = new Set<string>();
    const modes = new Set<string>();
    const job1Instances = new Set<string>();
    for (const s of data) {
      for (let i = 0; i < s.labels.length; i += 2) names.add(s.labels[i]!);
      const o = Object.fromEntries(Array.from({ length: s.labels.length / 2 }, (_, i) => [s.labels[2 * i]!, s.labels[2 * i + 1]!]));
      if (o.mode !== undefined) modes.add(o.mode);
      if (o.job === 'job1') job1Instances.add(o.instance!);
    }
    assert.deepEqual(await q.labelNames(all, []), [...names].sort());
    assert.deepEqual(await q.labelValues('mode', all, []), [...modes].sort());
    assert.deepEqual(await q.labelValues('instance', all, [eq('job', 'job1')]), [...job1Instances].sort());
    assert.deepEqual(await q.labelNames(all, [eq('__name__', 'nothing')]), []);
    assert.deepEqual(await q.labelValues('job', { start: 0, end: 1 }, []), [], 'outside the block range');
    assert.deepEqual(await q.labelValues('job', { ...all, limit: 2 }, []), ['job0', 'job1']);
  });
});

describe('block layout details', () => {
  test('negative timestamps, one-sample chunks and an empty block', async () => {
    const data: Sampled[] = [
      { labels: labelsFromObject({ __name__: 'old' }), ts: Float64Array.of(-5000, -4000, -1), vs: Float64Array.of(1, 2, 3) },
      { labels: labelsFromObject({ __name__: 'one' }), ts: Float64Array.of(7), vs: Float64Array.of(STALE_NAN) },
    ];
    const dir = freshDir();
    const meta = await writeBlock(dir, data.map((s) => toChunks(s, 1)), { minT: -10_000, maxT: 10 });
    const block = await openBlock(join(dir, meta.ulid));
    assertSame(await readAll(block.querier(), []), expected(data, []), 'negative');
    assert.equal(meta.stats.numChunks, 4);

    const empty = await writeBlock(dir, [{ labels: labelsFromObject({ a: 'b' }), chunks: [] }], { minT: 0, maxT: 10 });
    assert.deepEqual(empty.stats, { numSamples: 0, numSeries: 0, numChunks: 0 });
    assert.ok(!readFileSync(join(dir, empty.ulid, 'meta.json'), 'utf8').includes('stats'), 'zero stats are omitted');
    const eb = await openBlock(join(dir, empty.ulid));
    assert.equal((await readAll(eb.querier(), [])).length, 0);
    assert.deepEqual(await eb.querier().labelNames({ start: 0, end: 10 }, []), []);
  });

  test('a small segment size cuts several segment files; refs carry the segment index', async () => {
    const data = generate(11, 60, 500, 1_000_000);
    const dir = freshDir();
    const meta = await writeBlock(dir, data.map((s) => toChunks(s)), { ...rangeOf(data), segmentSize: 4096 });
    const files = readdirSync(join(dir, meta.ulid, 'chunks'));
    assert.ok(files.length > 5, `${files.length} segments`);
    assert.deepEqual(files, files.map((_, i) => String(i + 1).padStart(6, '0')));
    for (const f of files) {
      const b = readFileSync(join(dir, meta.ulid, 'chunks', f));
      assert.deepEqual([...b.subarray(0, 8)], [0x85, 0xbd, 0x40, 0xdd, 1, 0, 0, 0]);
    }
    const block = await openBlock(join(dir, meta.ulid));
    assertSame(await readAll(block.querier(), []), expected(data, []), 'segments');
    let maxSeg = 0;
    for (const id of block.index.allPostings()) {
      for (const c of block.index.series(id).chunks) maxSeg = Math.max(maxSeg, Math.floor(c.ref / 2 ** 32));
    }
    assert.equal(maxSeg, files.length - 1);
  });

  test('tombstones hide deleted samples', async () => {
    const data = generate(3, 20, 300, 0);
    const dir = freshDir();
    const meta = await writeBlock(dir, data.map((s) => toChunks(s)), rangeOf(data));
    const blockDir = join(dir, meta.ulid);
    let block = await openBlock(blockDir);
    const ids = block.index.allPostings();
    const stones = new Map<number, number[]>([[ids[0]!, [0, 300_000, 1_000_000, 2_000_000]], [ids[1]!, [-100, 1e13]]]);
    rmSync(join(blockDir, 'tombstones'));
    writeFileSync(join(blockDir, 'tombstones'), encodeTombstones(stones));
    block = await openBlock(blockDir);
    assert.deepEqual(block.tombstones, stones);
    const firstKey = block.index.series(ids[0]!).labels.join();
    const secondKey = block.index.series(ids[1]!).labels.join();
    const want = expected(data, []).map((s) => {
      const first = s.labels.join() === firstKey;
      const second = s.labels.join() === secondKey;
      const keep = s.ts.map((t) => !(second || (first && ((t >= 0 && t <= 300_000) || (t >= 1_000_000 && t <= 2_000_000)))));
      return { labels: s.labels, ts: s.ts.filter((_, i) => keep[i]), vs: s.vs.filter((_, i) => keep[i]) };
    });
    assertSame(await readAll(block.querier(), []), want, 'tombstones');
    assert.ok(encodeTombstones().length === 9);
  });

  test('invalid input is refused with a message naming the series', async () => {
    const c = (minT: number, maxT: number) => toChunks({ labels: [], ts: Float64Array.of(minT, maxT), vs: Float64Array.of(1, 2) }).chunks[0]!;
    const L = labelsFromObject({ __name__: 'x' });
    const dir = freshDir();
    await assert.rejects(writeBlock(dir, [{ labels: L, chunks: [c(0, 10), c(5, 20)] }], { minT: 0, maxT: 100 }), /chunk 1 of \{__name__="x"\} starts at 5/);
    await assert.rejects(writeBlock(dir, [{ labels: L, chunks: [c(0, 100)] }], { minT: 0, maxT: 100 }), /outside the block range/);
    await assert.rejects(writeBlock(dir, [{ labels: L, chunks: [c(0, 1)] }, { labels: L, chunks: [c(2, 3)] }], { minT: 0, maxT: 100 }), /appears twice/);
    await assert.rejects(writeBlock(dir, [], { minT: 10, maxT: 10 }), /invalid range/);
    await assert.rejects(writeBlock(dir, [], { minT: 0, maxT: 10, ulid: 'nope' }), /invalid ULID/);
    const ulid = newUlid();
    await writeBlock(dir, [{ labels: L, chunks: [c(0, 1)] }], { minT: 0, maxT: 100, ulid });
    await assert.rejects(writeBlock(dir, [{ labels: L, chunks: [c(0, 1)] }], { minT: 0, maxT: 100, ulid }), /already exists/);
    assert.ok(readdirSync(dir).every((n) => !n.includes('tmp')), 'no temp directories left behind');
  });

  test('open errors name the file', async () => {
    const dir = freshDir();
    const meta = await writeBlock(dir, [toChunks(generate(5, 1, 10, 0)[0]!)], { minT: 0, maxT: 10_000_000 });
    const blockDir = join(dir, meta.ulid);
    const seg = join(blockDir, 'chunks', '000001');
    const orig = readFileSync(seg);
    const bad = Buffer.from(orig);
    bad[20] = bad[20]! ^ 0xff;
    writeFileSync(seg, bad);
    const block = await openBlock(blockDir);
    await assert.rejects(readAll(block.querier(), []), (e: Error) => e instanceof BlockFormatError && /000001: at offset 8: chunk checksum mismatch/.test(e.message));
    writeFileSync(seg, orig);
    writeFileSync(join(blockDir, 'meta.json'), '{"version": 2}');
    await assert.rejects(openBlock(blockDir), /meta\.json: unsupported meta version 2/);
    rmSync(join(blockDir, 'meta.json'));
    await assert.rejects(openBlock(blockDir), /meta\.json: cannot read block meta/);
    assert.ok(!existsSync(join(blockDir, 'meta.json')));
  });
});

describe('the head and a block answer alike', () => {
  test("a head's closed chunks written as a block give the head's answers over the block range", async () => {
    const head = new Head('t');
    const data = generate(77, 300, 700, 3_600_000);
    const app = head.appender();
    const blockMaxT = 7_200_000; // chunks never span this boundary in the head (2h chunk range)
    for (const s of data) {
      for (let i = 0; i < s.ts.length; i++) app.append(0, s.labels, s.ts[i]!, s.vs[i]!);
      // A sample past the boundary closes the chunk that ends before it.
      app.append(0, s.labels, Math.max(blockMaxT, s.ts[s.ts.length - 1]! + 1), 0);
    }
    await app.commit();
    const series: BlockSeriesInput[] = data.map((s) => ({
      labels: s.labels,
      chunks: head.getByLabels(s.labels)!.closed.filter((c) => c.maxT < blockMaxT),
    }));
    const dir = freshDir();
    const meta = await writeBlock(dir, series, { minT: 3_600_000, maxT: blockMaxT });
    const block = await openBlock(join(dir, meta.ulid));
    const hq = head.querier();
    const bq = block.querier();
    const end = blockMaxT - 1;
    for (const ms of [[], [eq('job', 'job2')], [re('instance', 'host-[0-3].*'), neq('mode', 'a')]]) {
      const fromHead = await readAll(hq, ms, 3_600_000, end);
      const fromBlock = await readAll(bq, ms, 3_600_000, end);
      assertSame(fromBlock, fromHead, `head vs block ${ms.join(',')}`);
      const h = { start: 3_600_000, end };
      assert.deepEqual(await bq.labelValues('instance', h, ms), await hq.labelValues('instance', h, ms));
      assert.deepEqual(await bq.labelNames(h, ms), await hq.labelNames(h, ms));
    }
  });
});

describe('ULID and meta', () => {
  test('ULIDs: 26 Crockford characters, time prefix, monotonic within a millisecond', () => {
    const a = newUlid(1_700_000_000_000);
    const b = newUlid(1_700_000_000_000);
    assert.match(a, /^[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.ok(a < b, 'same millisecond: increasing');
    assert.equal(ulidTime(a), 1_700_000_000_000);
    assert.ok(newUlid() > a);
    // The oklog/ulid spec vectors: all zeros and the maximum.
    assert.equal(encodeUlid(0, new Uint8Array(10)), '00000000000000000000000000');
    assert.equal(encodeUlid(2 ** 48 - 1, new Uint8Array(10).fill(255)), '7ZZZZZZZZZZZZZZZZZZZZZZZZZ');
    assert.equal(ulidTime('01M7Z0TREM1REJRNTPAYWG19X3'), parseUlid('01m7z0trem1rejrntpaywg19x3').time);
    assert.ok(!isUlid('8ZZZZZZZZZZZZZZZZZZZZZZZZZ'), 'overflow');
    assert.ok(!isUlid('01M7Z0TREM1REJRNTPAYWG19XU'), 'U is not in the alphabet');
    assert.ok(!isUlid('short'));
  });

  test('meta.json: Prometheus field order, omitted zeros, extra sections kept', () => {
    const m = {
      ulid: '01M7Z0TREM1REJRNTPAYWG19X3',
      minTime: 1,
      maxTime: 2,
      stats: { numSamples: 4, numSeries: 3, numChunks: 3 },
      compaction: { level: 1, sources: ['01M7Z0TREM1REJRNTPAYWG19X3'] },
      version: 1,
    };
    const text = encodeMeta(m);
    assert.equal(
      text,
      '{\n\t"ulid": "01M7Z0TREM1REJRNTPAYWG19X3",\n\t"minTime": 1,\n\t"maxTime": 2,\n\t"stats": {\n\t\t"numSamples": 4,\n\t\t"numSeries": 3,\n\t\t"numChunks": 3\n\t},\n\t"compaction": {\n\t\t"level": 1,\n\t\t"sources": [\n\t\t\t"01M7Z0TREM1REJRNTPAYWG19X3"\n\t\t]\n\t},\n\t"version": 1\n}',
    );
    assert.deepEqual(decodeMeta(text), m);
    assert.throws(() => decodeMeta('{"ulid":"x","version":1}', 'f'), /f: invalid ulid/);
    assert.throws(() => decodeMeta('[', 'f'), /f: not valid JSON/);
  });
});

// ---------------------------------------------------------------------------------------------------------
// fuzz

describe('fuzz: corrupt files give clear errors, never crashes or hangs', () => {
  const data = generate(21, 80, 200, 5_000_000);
  let indexBytes: Uint8Array;
  let segment: Uint8Array;
  let seriesOffsets: number[] = [];
  let postingsOffsets: number[] = [];

  test('setup', async () => {
    const dir = freshDir();
    const meta = await writeBlock(dir, data.map((s) => toChunks(s)), rangeOf(data));
    indexBytes = new Uint8Array(readFileSync(join(dir, meta.ulid, 'index')));
    segment = new Uint8Array(readFileSync(join(dir, meta.ulid, 'chunks', '000001')));
    const ix = IndexReader.parse(indexBytes);
    seriesOffsets = [...ix.allPostings()].map((id) => id * 16);
    postingsOffsets = [];
    const d = new DataView(indexBytes.buffer, indexBytes.byteOffset);
    // Walk the postings section: 4-byte aligned lists from toc.postings up to the label index table.
    let p = ix.toc.postings;
    while (p < ix.toc.labelIndicesTable) {
      p = (p + 3) & ~3;
      postingsOffsets.push(p);
      p += 4 + d.getUint32(p) + 4;
    }
  });

  /**
   * Recomputes the CRCs of the sections a mutation may have touched, so that mutations reach the
   * structural checks instead of stopping at the first checksum.
   */
  function fixCrcs(b: Uint8Array): void {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const crcAt = (start: number, len: number) => {
      if (start < 0 || len < 0 || start + len + 4 > b.length) return;
      dv.setUint32(start + len, crc32cOf(b.subarray(start, start + len)));
    };
    const tocAt = b.length - 52;
    if (tocAt < 5) return;
    const toc = (i: number) => dv.getUint32(tocAt + 8 * i + 4);
    for (const at of [toc(0), toc(3), toc(5), ...postingsOffsets]) {
      if (at + 4 <= tocAt) crcAt(at + 4, dv.getUint32(at));
    }
    for (const at of seriesOffsets) {
      if (at >= tocAt) continue;
      let len = 0;
      let shift = 0;
      let p = at;
      while (p < b.length && shift < 35) {
        const x = b[p++]!;
        len += (x & 0x7f) * 2 ** shift;
        shift += 7;
        if (x < 0x80) break;
      }
      crcAt(p, len);
    }
    crcAt(tocAt, 48);
  }

  function exercise(b: Uint8Array): void {
    const ix = IndexReader.parse(b);
    for (const name of ix.labelNames()) for (const v of ix.labelValues(name)) ix.postings(name, v);
    for (const id of ix.allPostings()) ix.series(id);
  }

  test('index: 3000 mutations', (t) => {
    const r = rng(12345);
    const started = Date.now();
    let ok = 0;
    const kinds = new Map<string, number>();
    for (let iter = 0; iter < 3000; iter++) {
      let b = indexBytes.slice();
      const mode = iter % 4;
      const n = 1 + Math.floor(r() * 4);
      for (let k = 0; k < n; k++) {
        const at = Math.floor(r() * b.length);
        if (mode === 3 && k === 0) b = b.slice(0, at);
        else if (b.length > 0) b[Math.min(at, b.length - 1)] = r() < 0.5 ? Math.floor(r() * 256) : b[Math.min(at, b.length - 1)]! ^ (1 << Math.floor(r() * 8));
      }
      if (mode === 1 || mode === 2) fixCrcs(b);
      try {
        exercise(b);
        ok++;
      } catch (e) {
        if (!(e instanceof BlockFormatError)) assert.fail(`iteration ${iter}: not a BlockFormatError: ${(e as Error).stack ?? String(e)}`);
        const key = e.message
          .replace(/^.*?: at offset \d+: /, '')
          .replace(/\(.*$/, '')
          .replace(/"(?:[^"\\]|\\.)*"/g, '…')
          .replace(/\d+/g, 'N')
          .trim();
        kinds.set(key, (kinds.get(key) ?? 0) + 1);
      }
    }
    assert.ok(Date.now() - started < 20_000, 'bounded time');
    const top = [...kinds].sort((a, b) => b[1] - a[1]);
    t.diagnostic(`${ok} mutated indexes still parsed; ${kinds.size} kinds of error: ${top.map(([k, n]) => `${n}× ${k}`).join(' | ')}`);
    assert.ok(kinds.size > 10, `many distinct checks were reached: ${[...kinds.keys()].join(' | ')}`);
    assert.ok(ok < 3000);
  });

  test('chunks: mutations of a segment are errors or readable, never crashes', () => {
    const r = rng(999);
    const ix = IndexReader.parse(indexBytes);
    const refs = [...ix.allPostings()].flatMap((id) => ix.series(id).chunks.map((c) => c.ref));
    for (let iter = 0; iter < 1000; iter++) {
      let b = segment.slice();
      const at = Math.floor(r() * b.length);
      if (iter % 3 === 0) b = b.slice(0, at);
      else b[at] = b[at]! ^ (1 + Math.floor(r() * 255));
      let cr: ChunkReader;
      try {
        cr = ChunkReader.fromBuffers([b]);
      } catch (e) {
        assert.ok(e instanceof BlockFormatError && /segment header|bad magic/.test(e.message), String(e));
        continue;
      }
      for (const ref of [...refs, 0, 3, 2 ** 32, b.length - 1, 2 ** 40]) {
        try {
          const c = cr.chunk(ref);
          assert.ok(refs.includes(ref) && c.bytes.length > 0, `ref ${ref} accepted`);
        } catch (e) {
          if (e instanceof BlockFormatError) continue;
          assert.match(String(e), /chunk ref \d+: segment \d+ does not exist/);
        }
      }
    }
  });

  test('meta.json and tombstones: garbage in, Error out', () => {
    const r = rng(4242);
    const good = encodeTombstones(new Map([[5, [1, 2, 10, 20]]]));
    assert.deepEqual(decodeTombstones(good), new Map([[5, [1, 2, 10, 20]]]));
    for (let iter = 0; iter < 1000; iter++) {
      const b = good.slice(0, Math.floor(r() * (good.length + 1)));
      if (b.length > 0) b[Math.floor(r() * b.length)] ^= 1 + Math.floor(r() * 255);
      try {
        decodeTombstones(b);
      } catch (e) {
        assert.ok(e instanceof BlockFormatError, String(e));
      }
      const text = encodeMeta({ ulid: newUlid(), minTime: 0, maxTime: 1, stats: {}, compaction: { level: 1 }, version: 1 });
      const cut = text.slice(0, Math.floor(r() * text.length)) + String.fromCharCode(Math.floor(r() * 128)) + text.slice(Math.floor(r() * text.length));
      try {
        decodeMeta(cut);
      } catch (e) {
        assert.ok(e instanceof Error && !(e instanceof TypeError), String(e));
      }
    }
  });
});

// CRC-32C for the fuzz helper (independent of the code under test).
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32cOf(b: Uint8Array): number {
  let c = ~0;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
