/**
 * Test support for the compactor: blocks uploaded to a bucket the way the shipper does (files first,
 * meta.json last), an independent reader of a bucket (download, `openBlock`, ignore marked and partial
 * blocks, merge overlapping ones), and a bucket wrapper that "crashes" after N operations.
 */
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { labelsKey, type Labels } from '../../src/model/labels.js';
import { MemoryBucket, type Bucket, type IterOptions, type ObjectAttributes } from '../../src/objstore/index.js';
import { ValueType } from '../../src/storage/interface.js';
import { IndexReader, encodeMeta, encodeTombstones, openBlock, writeBlock, type BlockCompaction, type BlockMeta } from '../../src/tsdb/block/index.js';
import { toChunks, uploadBlockDir } from '../support/blocks.js';
import { bits } from '../support/random.js';

/**
 * A value's identity, cheaply: the number itself (one-to-one with its bits, -0 included, under the
 * SameValue comparison deepEqual uses), and the bit pattern only for NaNs, whose payloads matter.
 */
export type ValueKey = number | string;
export function vkey(v: number): ValueKey {
  return Number.isNaN(v) ? `NaN:${bits(v)}` : v;
}

export const HOUR = 3_600_000;
export const T0 = 1_700_000_000_000 - (1_700_000_000_000 % (48 * HOUR)); // aligned to every default range

export interface SeriesData {
  labels: Labels;
  ts: number[];
  /** Float64Array so stale NaNs keep their payload. */
  vs: Float64Array;
}

/** Regular series: `n` series sampled every `step` ms in [minT, maxT), values from `value(series, t)`. */
export function makeSeries(n: number, minT: number, maxT: number, step: number, value: (i: number, t: number) => number, offset = 0): SeriesData[] {
  const out: SeriesData[] = [];
  for (let i = 0; i < n; i++) {
    const ts: number[] = [];
    for (let t = minT + ((i * 1000 + offset) % step); t < maxT; t += step) ts.push(t);
    const vs = new Float64Array(ts.length);
    ts.forEach((t, k) => (vs[k] = value(i, t)));
    out.push({ labels: ['__name__', 'argus_compact_test', 'instance', `host-${String(i).padStart(3, '0')}`, 'job', 'node'], ts, vs });
  }
  return out;
}

let scratchRoot: string | null = null;
export async function scratch(): Promise<string> {
  // tmpfs when there is one: these tests write many small block files (and the writer fsyncs them).
  scratchRoot ??= await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'argus-compact-test-'));
  return mkdtemp(join(scratchRoot, 'd-'));
}
export async function cleanupScratch(): Promise<void> {
  if (scratchRoot) await rm(scratchRoot, { recursive: true, force: true });
  scratchRoot = null;
}

export interface UploadOptions {
  minT: number;
  maxT: number;
  ext?: Record<string, string>;
  resolution?: number;
  compaction?: BlockCompaction;
  ulid?: string;
  perChunk?: number;
  /** Skip meta.json (a partial upload). */
  partial?: boolean;
  /** Deleted intervals (inclusive) written to the block's tombstones for series matching `match`. */
  deleteRanges?: { match: (ls: Labels) => boolean; mint: number; maxt: number }[];
}

/** Writes a block and uploads it in Thanos layout, meta.json last with a `thanos` section. */
export async function uploadBlock(bucket: Bucket, series: SeriesData[], o: UploadOptions): Promise<BlockMeta> {
  const dir = await scratch();
  const opts: Parameters<typeof writeBlock>[2] = { minT: o.minT, maxT: o.maxT };
  if (o.ulid) opts.ulid = o.ulid;
  if (o.compaction) opts.compaction = o.compaction;
  const meta = await writeBlock(dir, series.map((s) => toChunks(s, o.perChunk)), opts);
  const bdir = join(dir, meta.ulid);
  if (o.deleteRanges) {
    const ix = IndexReader.parse(new Uint8Array(await readFile(join(bdir, 'index'))));
    const stones = new Map<number, number[]>();
    for (const id of ix.allPostings()) {
      const ls = ix.series(id).labels;
      for (const d of o.deleteRanges) if (d.match(ls)) (stones.get(id) ?? stones.set(id, []).get(id)!).push(d.mint, d.maxt);
    }
    await writeFile(join(bdir, 'tombstones'), encodeTombstones(stones));
  }
  const full: BlockMeta = { ...meta, thanos: { labels: o.ext ?? {}, downsample: { resolution: o.resolution ?? 0 }, source: 'test' } };
  await writeFile(join(bdir, 'meta.json'), encodeMeta(full));
  await uploadBlockDir(bucket, bdir, { skipMeta: o.partial });
  await rm(dir, { recursive: true, force: true });
  return full;
}

export interface ReadView {
  /** Visible blocks (meta.json present, no deletion mark). */
  blocks: BlockMeta[];
  /** Per series key: samples merged over visible blocks, time order, as times and value keys. */
  series: Map<string, { labels: Labels; ts: number[]; vals: ValueKey[] }>;
  /** Samples seen more than once across overlapping blocks (expected for identical duplicates). */
  overlaps: number;
}

/**
 * Reads every visible block the way a querier would: download, `openBlock`, all series; blocks with a
 * deletion mark or without meta.json are ignored; overlapping blocks are merged (same t: values must be
 * identical, otherwise the assertion names the series). Within one block every series must be strictly
 * increasing in time. With `openMarked`, marked blocks that still have meta.json must open and read too.
 */
export async function readBucket(bucket: Bucket, opts: { openMarked?: boolean; cache?: BlockCache } = {}): Promise<ReadView> {
  const dirs = new Map<string, string[]>();
  for await (const k of bucket.iter('', { recursive: true })) {
    const d = k.slice(0, k.indexOf('/'));
    (dirs.get(d) ?? dirs.set(d, []).get(d)!).push(k);
  }
  const view: ReadView = { blocks: [], series: new Map(), overlaps: 0 };
  const perSeries = new Map<string, { labels: Labels; samples: Map<number, ValueKey> }>();
  for (const [ulid, keys] of [...dirs].sort()) {
    if (!keys.includes(`${ulid}/meta.json`)) continue;
    const marked = keys.includes(`${ulid}/deletion-mark.json`);
    if (marked && !opts.openMarked) continue;
    // With `openMarked`, marked blocks must still open and read (a meta.json never outlives the data).
    const block = await loadBlock(bucket, ulid, keys, opts.cache);
    if (marked) continue;
    view.blocks.push(block.meta);
    for (const s of block.series) {
      let e = perSeries.get(s.key);
      if (e === undefined) perSeries.set(s.key, (e = { labels: s.labels, samples: new Map() }));
      s.ts.forEach((t, i) => {
        const had = e.samples.get(t);
        if (had !== undefined) {
          if (had !== s.vals[i]) assert.fail(`series ${s.key} at ${t}: overlapping blocks disagree (${had} vs ${s.vals[i]})`);
          view.overlaps++;
        } else e.samples.set(t, s.vals[i]!);
      });
    }
  }
  for (const [key, e] of perSeries) {
    const ts = [...e.samples.keys()].sort((a, b) => a - b);
    view.series.set(key, { labels: e.labels, ts, vals: ts.map((t) => e.samples.get(t)!) });
  }
  return view;
}

interface LoadedBlock {
  meta: BlockMeta;
  series: { key: string; labels: Labels; ts: number[]; vals: ValueKey[] }[];
}

/**
 * Blocks read before, by ULID and object list. Objects of a block are never rewritten (only added or
 * deleted), so a block with the same objects reads the same; tests that read a bucket many times use it.
 */
export type BlockCache = Map<string, LoadedBlock>;

/** Downloads and opens one block, checking that every series is strictly increasing inside the block range. */
async function loadBlock(bucket: Bucket, ulid: string, keys: string[], cache?: BlockCache): Promise<LoadedBlock> {
  const data = keys.filter((k) => !k.endsWith('/deletion-mark.json') && !k.endsWith('/no-compact-mark.json')).sort();
  const ck = `${ulid}|${data.join(',')}`;
  const hit = cache?.get(ck);
  if (hit) return hit;
  const root = await scratch();
  for (const k of data) {
    const p = join(root, k);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, await bucket.get(k));
  }
  const block = await openBlock(join(root, ulid));
  const out: LoadedBlock = { meta: block.meta, series: [] };
  for await (const s of block.querier().select({ start: -Infinity, end: Infinity }, [])) {
    const key = labelsKey(s.labels);
    const it = s.iterator();
    const ts: number[] = [];
    const bs: ValueKey[] = [];
    let prev = -Infinity;
    while (it.next() !== ValueType.None) {
      const t = it.atT();
      // Messages are built only on failure: this loop runs per sample.
      if (!(t > prev)) assert.fail(`block ${ulid} series ${key}: time ${t} not after ${prev}`);
      if (t < block.meta.minTime || t >= block.meta.maxTime) assert.fail(`block ${ulid}: sample ${t} outside [${block.meta.minTime}, ${block.meta.maxTime})`);
      prev = t;
      ts.push(t);
      bs.push(vkey(it.atF()));
    }
    out.series.push({ key, labels: s.labels, ts, vals: bs });
  }
  await rm(root, { recursive: true, force: true });
  cache?.set(ck, out);
  return out;
}

/** The samples of `data` (several sources may repeat samples) in the shape `readBucket` returns. */
export function expected(...sets: SeriesData[][]): Map<string, { ts: number[]; vals: ValueKey[] }> {
  const per = new Map<string, Map<number, ValueKey>>();
  for (const set of sets) {
    for (const s of set) {
      const key = labelsKey(s.labels);
      const m = per.get(key) ?? per.set(key, new Map()).get(key)!;
      s.ts.forEach((t, i) => m.set(t, vkey(s.vs[i]!)));
    }
  }
  const out = new Map<string, { ts: number[]; vals: ValueKey[] }>();
  for (const [key, m] of per) {
    const ts = [...m.keys()].sort((a, b) => a - b);
    out.set(key, { ts, vals: ts.map((t) => m.get(t)!) });
  }
  return out;
}

/** Asserts sample-by-sample equality of a read view with the expected samples. */
export function assertSamples(view: ReadView, want: Map<string, { ts: number[]; vals: ValueKey[] }>, what: string): number {
  assert.deepEqual([...view.series.keys()].sort(), [...want.keys()].sort(), `${what}: series`);
  let n = 0;
  for (const [key, w] of want) {
    const got = view.series.get(key)!;
    assert.deepEqual(got.ts, w.ts, `${what}: timestamps of ${key}`);
    assert.deepEqual(got.vals, w.vals, `${what}: values of ${key}`);
    n += w.ts.length;
  }
  return n;
}

export class CrashError extends Error {
  constructor(op: number) {
    super(`simulated crash at bucket operation ${op}`);
    this.name = 'CrashError';
  }
}

/**
 * A bucket that "crashes" (every operation from then on throws) once `crashAt` operations have been
 * started; with `crashAt` = Infinity it only counts. Listing counts as one operation.
 */
export class CrashingBucket implements Bucket {
  readonly name: string;
  ops = 0;
  readonly log: string[] = [];
  constructor(
    private readonly inner: Bucket,
    private readonly crashAt = Infinity,
  ) {
    this.name = `crashing(${inner.name})`;
  }
  private step(what: string): void {
    if (this.ops >= this.crashAt) throw new CrashError(this.ops);
    this.ops++;
    this.log.push(what);
  }
  async get(key: string): Promise<Uint8Array> {
    this.step(`get ${key}`);
    return this.inner.get(key);
  }
  async getRange(key: string, offset: number, length: number): Promise<Uint8Array> {
    this.step(`getRange ${key}`);
    return this.inner.getRange(key, offset, length);
  }
  async exists(key: string): Promise<boolean> {
    this.step(`exists ${key}`);
    return this.inner.exists(key);
  }
  async attributes(key: string): Promise<ObjectAttributes> {
    this.step(`attributes ${key}`);
    return this.inner.attributes(key);
  }
  async put(key: string, body: Uint8Array): Promise<void> {
    this.step(`put ${key}`);
    return this.inner.put(key, body);
  }
  async putFile(key: string, path: string): Promise<void> {
    this.step(`putFile ${key}`);
    return this.inner.putFile(key, path);
  }
  async delete(key: string): Promise<void> {
    this.step(`delete ${key}`);
    return this.inner.delete(key);
  }
  async *iter(prefix: string, opts?: IterOptions): AsyncIterable<string> {
    this.step(`iter ${prefix}`);
    yield* this.inner.iter(prefix, opts);
  }
  async close(): Promise<void> {}
}

/** Keys of the bucket, sorted. */
export async function keys(bucket: Bucket): Promise<string[]> {
  const out: string[] = [];
  for await (const k of bucket.iter('', { recursive: true })) out.push(k);
  return out.sort();
}

export function newMemoryBucket(): MemoryBucket {
  return new MemoryBucket();
}
