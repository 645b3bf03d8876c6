/**
 * The compactor side of downsampling: which blocks the plan picks (Thanos's rule), and downsampleStep
 * against a MemoryBucket: download, downsample, upload (files first, meta.json last), idempotence, the
 * second pass that makes 1h blocks from fresh 5m ones, no-downsample marks, failures and crashes.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { MemoryBucket, type Bucket, type IterOptions, type ObjectAttributes } from '../../src/objstore/index.js';
import { decodeMeta, encodeUlid, writeBlock, type BlockMeta } from '../../src/tsdb/block/index.js';
import {
  NO_DOWNSAMPLE_MARK,
  RES_1H,
  RES_5M,
  downsampleBlock,
  downsampleStep,
  planDownsampling,
} from '../../src/compact/downsample/index.js';
import { createLogger, nopLogger } from '../../src/util/log.js';
import { xorChunks } from '../support/blocks.js';
import { HOUR, rawBlock, readBlockSeries, series } from './downsample-support.js';

const root = mkdtempSync(join(tmpdir(), 'argus-downsample-bucket-'));
after(() => rmSync(root, { recursive: true, force: true }));
let seq = 0;
const newDir = (): string => join(root, `d${seq++}`);

const T0 = 1_700_000_000_000 - (1_700_000_000_000 % (2 * HOUR));
const DAY = 24 * HOUR;

// ---------------------------------------------------------------------------------------------------------
// plan

function meta(ulidMs: number, rand: number, minTime: number, maxTime: number, res: number, sources?: string[], source = 'sidecar'): BlockMeta {
  const ulid = encodeUlid(ulidMs, Uint8Array.from({ length: 10 }, (_, i) => (rand * 31 + i) & 0xff));
  return {
    ulid,
    minTime,
    maxTime,
    stats: {},
    compaction: { level: 1, sources: sources ?? [ulid] },
    version: 1,
    thanos: { labels: {}, downsample: { resolution: res }, source },
  };
}

describe('planDownsampling (Thanos rule)', () => {
  const now = T0 + 30 * DAY;
  const old = T0;

  test('range thresholds, coverage by sources, 1h never further, ULID order', () => {
    const raw48 = meta(old + 2, 1, T0, T0 + 48 * HOUR, 0);
    const raw40 = meta(old + 1, 2, T0, T0 + 40 * HOUR, 0);
    const raw39 = meta(old, 3, T0, T0 + 40 * HOUR - 1, 0);
    const covered = meta(old + 3, 4, T0, T0 + 48 * HOUR, 0, ['SRC1', 'SRC2']);
    const partly = meta(old + 4, 5, T0, T0 + 48 * HOUR, 0, ['SRC1', 'SRC3']);
    const five = meta(old + 5, 6, T0, T0 + 48 * HOUR, RES_5M, ['SRC1', 'SRC2']);
    const five10d = meta(old + 6, 7, T0, T0 + 10 * DAY, RES_5M, ['SRC4']);
    const five9d = meta(old + 7, 8, T0, T0 + 9 * DAY, RES_5M, ['SRC5']);
    const hour = meta(old + 8, 9, T0, T0 + 20 * DAY, RES_1H, ['SRC6']);
    const five20d = meta(old + 9, 10, T0, T0 + 20 * DAY, RES_5M, ['SRC6']);
    const jobs = planDownsampling([hour, five20d, five9d, five10d, five, partly, covered, raw39, raw40, raw48], now);
    assert.deepEqual(
      jobs.map((j) => [j.meta.ulid, j.resolution]),
      [
        [raw40.ulid, RES_5M],
        [raw48.ulid, RES_5M],
        [partly.ulid, RES_5M],
        [five10d.ulid, RES_1H],
      ],
    );
  });

  test('options: thresholds, no-downsample marks, consistency delay (compactor-made blocks exempt)', () => {
    const a = meta(old, 1, T0, T0 + 2 * HOUR, 0);
    const b = meta(old + 1, 2, T0, T0 + 4 * HOUR, RES_5M);
    assert.deepEqual(planDownsampling([a, b], now), []);
    const small = { raw5mAfterMs: 2 * HOUR, fiveM1hAfterMs: 4 * HOUR };
    assert.deepEqual(planDownsampling([a, b], now, small).map((j) => j.resolution), [RES_5M, RES_1H]);
    assert.deepEqual(planDownsampling([a, b], now, { ...small, noDownsample: new Set([a.ulid]) }).map((j) => j.meta.ulid), [b.ulid]);
    const fresh = meta(now - 10 * 60_000, 3, T0, T0 + 2 * DAY, 0);
    const freshCompacted = meta(now - 10 * 60_000, 4, T0, T0 + 2 * DAY, 0, undefined, 'compactor');
    assert.deepEqual(planDownsampling([fresh, freshCompacted], now, { consistencyDelayMs: 30 * 60_000 }).map((j) => j.meta.ulid), [freshCompacted.ulid]);
    assert.equal(planDownsampling([fresh], now).length, 1, 'no delay by default');
    assert.throws(() => planDownsampling([meta(old, 5, T0, T0 + DAY, 12345)], now), /block \w+: unexpected downsampling resolution 12345 ms \(want 0, 300000 or 3600000\)/);
  });
});

// ---------------------------------------------------------------------------------------------------------
// step

/** A bucket that records every put and can fail one. */
class RecordingBucket implements Bucket {
  readonly name = 'recording';
  readonly puts: string[] = [];
  failPut: ((key: string) => boolean) | null = null;
  constructor(readonly inner: MemoryBucket) {}
  get(key: string): Promise<Uint8Array> {
    return this.inner.get(key);
  }
  getRange(key: string, offset: number, length: number): Promise<Uint8Array> {
    return this.inner.getRange(key, offset, length);
  }
  exists(key: string): Promise<boolean> {
    return this.inner.exists(key);
  }
  attributes(key: string): Promise<ObjectAttributes> {
    return this.inner.attributes(key);
  }
  async put(key: string, body: Uint8Array): Promise<void> {
    if (this.failPut?.(key)) throw new Error(`injected failure putting ${key}`);
    this.puts.push(key);
    await this.inner.put(key, body);
  }
  async putFile(key: string, path: string): Promise<void> {
    await this.put(key, new Uint8Array(readFileSync(path)));
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
  iter(prefix: string, opts?: IterOptions): AsyncIterable<string> {
    return this.inner.iter(prefix, opts);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Uploads a local block as a shipper would: segments, index, meta.json last. */
async function ship(bucket: Bucket, dir: string, m: BlockMeta): Promise<void> {
  const b = join(dir, m.ulid);
  for (const n of readdirSync(join(b, 'chunks')).sort()) await bucket.putFile(`${m.ulid}/chunks/${n}`, join(b, 'chunks', n));
  await bucket.putFile(`${m.ulid}/index`, join(b, 'index'));
  await bucket.putFile(`${m.ulid}/meta.json`, join(b, 'meta.json'));
}

async function keysOf(bucket: Bucket, ulid: string): Promise<string[]> {
  const out: string[] = [];
  for await (const k of bucket.iter(`${ulid}/`, { recursive: true })) out.push(k.slice(ulid.length + 1));
  return out;
}

function counterSeries(name: string, from: number, to: number, step: number) {
  const ts: number[] = [];
  const vs: number[] = [];
  let v = 0;
  for (let t = from; t < to; t += step) {
    v += (t / step) % 7;
    if ((t / step) % 1000 === 999) v = 1;
    ts.push(t);
    vs.push(v);
  }
  return series({ __name__: name, job: 'x' }, ts, vs);
}

describe('downsampleStep with a bucket', () => {
  test('downloads, downsamples and uploads (files first, meta.json last); the result is what downsampleBlock makes; a rerun does nothing', async () => {
    const local = newDir();
    const input = [counterSeries('a', T0, T0 + 48 * HOUR, 30_000), counterSeries('b', T0 + HOUR, T0 + 47 * HOUR, 60_000)];
    const raw = await rawBlock(local, input, T0, T0 + 48 * HOUR);
    const bucket = new RecordingBucket(new MemoryBucket());
    await ship(bucket, local, raw);
    bucket.puts.length = 0;
    const workDir = newDir();
    const logs: string[] = [];
    const created = await downsampleStep({ bucket, workDir, logger: createLogger('info', {}, (l) => logs.push(l)), metas: [raw], now: T0 + 3 * DAY });
    assert.equal(created.length, 1);
    const m5 = created[0]!;
    assert.equal(m5.thanos?.downsample?.resolution, RES_5M);
    assert.deepEqual(m5.compaction.sources, [raw.ulid]);
    assert.deepEqual(bucket.puts, [`${m5.ulid}/chunks/000001`, `${m5.ulid}/index`, `${m5.ulid}/meta.json`]);
    assert.deepEqual(readdirSync(workDir), [], 'work dir cleaned');
    assert.match(logs.join(''), new RegExp(`msg="uploaded downsampled block" block=${m5.ulid} from=${raw.ulid} resolution=300000`));

    // meta.json in the bucket: Thanos's files list with the uploaded sizes, and the upload time.
    const stored = decodeMeta(new TextDecoder().decode(await bucket.get(`${m5.ulid}/meta.json`)));
    assert.deepEqual(stored, m5);
    const files = stored.thanos?.files as { rel_path: string; size_bytes?: number }[];
    assert.deepEqual(files.map((f) => f.rel_path), ['chunks/000001', 'index', 'meta.json']);
    for (const f of files.slice(0, 2)) assert.equal(f.size_bytes, (await bucket.attributes(`${m5.ulid}/${f.rel_path}`)).size);
    assert.equal(stored.thanos?.upload_time, new Date(T0 + 3 * DAY).toISOString());

    // Same series and chunk bytes as downsampling the local copy.
    const direct = (await downsampleBlock(join(local, raw.ulid), RES_5M, local))!;
    const fetched = newDir();
    for (const k of await keysOf(bucket, m5.ulid)) {
      mkdirSync(join(fetched, m5.ulid, 'chunks'), { recursive: true });
      writeFileSync(join(fetched, m5.ulid, k), await bucket.get(`${m5.ulid}/${k}`));
    }
    const a = await readBlockSeries(join(fetched, m5.ulid));
    const b = await readBlockSeries(join(local, direct.ulid));
    assert.deepEqual(a.series, b.series);

    // A rerun with the new block known finds nothing to do and downloads nothing.
    const reads = bucket.inner.stats.getRanges;
    assert.deepEqual(await downsampleStep({ bucket, workDir, logger: nopLogger, metas: new Map([[raw.ulid, raw], [m5.ulid, m5]]) }), []);
    assert.equal(bucket.inner.stats.getRanges, reads);
  });

  test('the second pass makes the 1h block from the 5m block made in the first', async () => {
    const local = newDir();
    const raw = await rawBlock(local, [counterSeries('a', T0, T0 + 4 * DAY, 60_000)], T0, T0 + 4 * DAY);
    const bucket = new MemoryBucket();
    await ship(bucket, local, raw);
    const created = await downsampleStep({ bucket, workDir: newDir(), logger: nopLogger, metas: [raw], options: { fiveM1hAfterMs: 3 * DAY } });
    assert.deepEqual(created.map((m) => m.thanos?.downsample?.resolution), [RES_5M, RES_1H]);
    assert.deepEqual(created[1]!.compaction.sources, [raw.ulid]);
    const all = new Set<string>();
    for await (const k of bucket.iter('')) all.add(k);
    assert.deepEqual([...all].sort(), [raw.ulid, created[0]!.ulid, created[1]!.ulid].map((u) => `${u}/`).sort());
  });

  test('a block without samples gets a no-downsample mark and is not downloaded again', async () => {
    const local = newDir();
    const empty = await rawBlock(local, [series({ __name__: 'n' }, [T0, T0 + HOUR], [NaN, NaN])], T0, T0 + 2 * DAY);
    const bucket = new MemoryBucket();
    await ship(bucket, local, empty);
    assert.deepEqual(await downsampleStep({ bucket, workDir: newDir(), logger: nopLogger, metas: [empty], now: T0 + 5 * DAY }), []);
    const mark = JSON.parse(new TextDecoder().decode(await bucket.get(`${empty.ulid}/${NO_DOWNSAMPLE_MARK}`)));
    assert.equal(mark.id, empty.ulid);
    assert.equal(mark.version, 1);
    assert.equal(mark.no_downsample_time, Math.floor((T0 + 5 * DAY) / 1000));
    const reads = bucket.stats.getRanges;
    assert.deepEqual(await downsampleStep({ bucket, workDir: newDir(), logger: nopLogger, metas: [empty] }), []);
    assert.equal(bucket.stats.getRanges, reads);
  });

  test('one failing block does not stop the others; the error names it; a crash before meta.json leaves no block, and a rerun makes one', async () => {
    const local = newDir();
    const good = await rawBlock(local, [counterSeries('a', T0, T0 + 2 * DAY, 60_000)], T0, T0 + 2 * DAY);
    const c = counterSeries('b', T0, T0 + 2 * DAY, 60_000);
    const chunks = xorChunks(c);
    chunks[3] = { ...chunks[3]!, bytes: chunks[3]!.bytes.slice(0, 12) };
    const bad = await writeBlock(local, [{ labels: c.labels, chunks }], { minT: T0, maxT: T0 + 2 * DAY, thanos: { labels: {}, downsample: { resolution: 0 }, source: 'sidecar' } });
    const bucket = new RecordingBucket(new MemoryBucket());
    await ship(bucket, local, good);
    await ship(bucket, local, bad);
    const logs: string[] = [];
    await assert.rejects(
      downsampleStep({ bucket, workDir: newDir(), logger: createLogger('info', {}, (l) => logs.push(l)), metas: [good, bad] }),
      new RegExp(`downsampling failed for 1 block\\(s\\): ${bad.ulid} to 300000 ms: block ${bad.ulid} series \\d+ \\{__name__="b", job="x"\\} chunk 3: xor chunk truncated`),
    );
    assert.match(logs.join(''), new RegExp(`level=error msg="downsampling failed; the block is left as it is and retried on the next run" block=${bad.ulid}`));
    const made = logs.join('').match(/msg="uploaded downsampled block" block=(\w+)/);
    assert.ok(made, 'the good block was downsampled');

    // Crash while uploading meta.json: the new block's files are there without meta.json (a partial
    // upload, which readers skip and the compactor cleans up); the next run makes the block.
    const b2 = new RecordingBucket(new MemoryBucket());
    await ship(b2, local, good);
    b2.failPut = (k) => k.endsWith('/meta.json');
    await assert.rejects(downsampleStep({ bucket: b2, workDir: newDir(), logger: nopLogger, metas: [good] }), /injected failure putting \w+\/meta\.json/);
    const partial = b2.puts.filter((k) => !k.startsWith(good.ulid)).map((k) => k.split('/')[0]!)[0]!;
    assert.deepEqual(await keysOf(b2, partial), ['chunks/000001', 'index']);
    b2.failPut = null;
    const again = await downsampleStep({ bucket: b2, workDir: newDir(), logger: nopLogger, metas: [good] });
    assert.equal(again.length, 1);
    assert.deepEqual(await keysOf(b2, again[0]!.ulid), ['chunks/000001', 'index', 'meta.json']);
  });
});
