/**
 * The block shipper: Thanos layout with meta.json last, thanos.shipper.json across restarts, no double
 * uploads, recovery from a failing bucket, re-upload of a cut upload, promtool reading a block downloaded
 * back from the bucket, and the TSDB hook that tells the shipper about new blocks.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { labelsFromObject } from '../../src/model/labels.js';
import { FilesystemBucket, MemoryBucket, type Bucket, type IterOptions, type ObjectAttributes } from '../../src/objstore/index.js';
import { XorChunk } from '../../src/tsdb/chunkenc/index.js';
import { decodeMeta, encodeUlid, writeBlock, type BlockMeta, type BlockSeriesInput } from '../../src/tsdb/block/index.js';
import { TSDB } from '../../src/tsdb/index.js';
import { Shipper, SHIPPER_META_FILENAME, decodeShipperMeta, encodeShipperMeta } from '../../src/tsdb/shipper.js';
import { createLogger, nopLogger, type Logger } from '../../src/util/log.js';
import { requirePeer } from '../support/peers.js';

const run = promisify(execFile);
const HOUR = 3_600_000;
const root = mkdtempSync(join(tmpdir(), 'argus-shipper-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string): string => {
  const d = join(root, `${name}-${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
};

const EXTERNAL = { replica: 'a', cluster: 'eu1', tenant_id: 'acme' };

/** A block of `nSeries` series with 15 s samples over [minT, minT + 2h); small segments make several files. */
async function makeBlock(dir: string, minT: number, nSeries = 10, opts: { segmentSize?: number; level?: number } = {}): Promise<BlockMeta> {
  const series: BlockSeriesInput[] = [];
  for (let i = 0; i < nSeries; i++) {
    const chunks = [];
    for (let c = 0; c < 4; c++) {
      const x = new XorChunk();
      const app = x.appender();
      const t0 = minT + c * 30 * 60_000;
      for (let k = 0; k < 120; k++) app.append(t0 + k * 15_000, i * 1000 + c * 120 + k);
      chunks.push({ minT: t0, maxT: t0 + 119 * 15_000, bytes: x.bytes().slice() });
    }
    series.push({ labels: labelsFromObject({ __name__: 'shipped_metric', series: String(i) }), chunks });
  }
  const ulid = encodeUlid(minT + 2 * HOUR + 1, new Uint8Array(10).fill(nSeries & 0xff));
  return writeBlock(dir, series, {
    minT,
    maxT: minT + 2 * HOUR,
    ulid,
    segmentSize: opts.segmentSize,
    compaction: opts.level ? { level: opts.level, sources: [ulid] } : undefined,
  });
}

interface Op {
  op: string;
  key: string;
  ok: boolean;
}

/** Wraps a bucket, recording every call; `failWhen` makes chosen calls throw as a broken store would. */
class RecordingBucket implements Bucket {
  readonly name = 'recording';
  readonly ops: Op[] = [];
  failWhen: (op: string, key: string, nth: number) => boolean = () => false;
  private calls = 0;
  constructor(readonly inner: Bucket) {}
  private async do<T>(op: string, key: string, fn: () => Promise<T>): Promise<T> {
    const nth = this.calls++;
    if (this.failWhen(op, key, nth)) {
      this.ops.push({ op, key, ok: false });
      throw new Error(`injected failure: ${op} ${key} (HTTP 503 SlowDown)`);
    }
    const r = await fn();
    this.ops.push({ op, key, ok: true });
    return r;
  }
  get(key: string): Promise<Uint8Array> {
    return this.do('get', key, () => this.inner.get(key));
  }
  getRange(key: string, off: number, len: number): Promise<Uint8Array> {
    return this.do('getRange', key, () => this.inner.getRange(key, off, len));
  }
  exists(key: string): Promise<boolean> {
    return this.do('exists', key, () => this.inner.exists(key));
  }
  attributes(key: string): Promise<ObjectAttributes> {
    return this.do('attributes', key, () => this.inner.attributes(key));
  }
  put(key: string, body: Uint8Array): Promise<void> {
    return this.do('put', key, () => this.inner.put(key, body));
  }
  putFile(key: string, path: string): Promise<void> {
    return this.do('putFile', key, () => this.inner.putFile(key, path));
  }
  delete(key: string): Promise<void> {
    return this.do('delete', key, () => this.inner.delete(key));
  }
  iter(prefix: string, opts?: IterOptions): AsyncIterable<string> {
    return this.inner.iter(prefix, opts);
  }
  async close(): Promise<void> {}
  writes(): Op[] {
    return this.ops.filter((o) => o.ok && (o.op === 'put' || o.op === 'putFile'));
  }
}

async function keys(b: Bucket, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for await (const k of b.iter(prefix, { recursive: true })) out.push(k);
  return out;
}

function files(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...files(join(dir, e.name)).map((f) => `${e.name}/${f}`));
    else out.push(e.name);
  }
  return out.sort();
}

function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger('debug', {}, (l) => lines.push(l)), lines };
}

function shipper(dir: string, bucket: Bucket, extra: Partial<ConstructorParameters<typeof Shipper>[0]> = {}): Shipper {
  return new Shipper({ dir, bucket, externalLabels: EXTERNAL, logger: nopLogger, ...extra });
}

describe('shipper', () => {
  test('uploads each block once in Thanos layout, meta.json last, with the thanos section', async () => {
    const dir = fresh('layout');
    const older = await makeBlock(dir, 0, 30, { segmentSize: 8 * 1024 });
    const newer = await makeBlock(dir, 2 * HOUR, 5);
    const bucket = new RecordingBucket(new MemoryBucket());
    const s = shipper(dir, bucket);
    const res = await s.sync();
    assert.deepEqual(res, { uploaded: [older.ulid, newer.ulid], failed: [], pending: 0, backedOff: false });
    assert.equal(s.metrics.uploads, 2);

    // Order: block by block, oldest first; within a block chunks, index, tombstones, then meta.json.
    const writes = bucket.writes().map((o) => o.key);
    const local = (m: BlockMeta): string[] => files(join(dir, m.ulid));
    const segs = local(older).filter((f) => f.startsWith('chunks/'));
    assert.ok(segs.length >= 2, `small segments made several chunk files: ${segs.join(',')}`);
    assert.deepEqual(writes, [
      ...segs.map((f) => `${older.ulid}/${f}`),
      `${older.ulid}/index`,
      `${older.ulid}/tombstones`,
      `${older.ulid}/meta.json`,
      `${newer.ulid}/chunks/000001`,
      `${newer.ulid}/index`,
      `${newer.ulid}/tombstones`,
      `${newer.ulid}/meta.json`,
    ]);
    // Every file arrives byte for byte; the uploaded meta.json is the local one plus the thanos section.
    for (const m of [older, newer]) {
      const inBucket = await keys(bucket, `${m.ulid}/`);
      assert.deepEqual(inBucket, local(m).map((f) => `${m.ulid}/${f}`));
      for (const f of local(m).filter((x) => x !== 'meta.json')) {
        assert.ok(Buffer.from(await bucket.get(`${m.ulid}/${f}`)).equals(readFileSync(join(dir, m.ulid, f))), `${m.ulid}/${f} bytes`);
      }
      const text = new TextDecoder().decode(await bucket.get(`${m.ulid}/meta.json`));
      assert.ok(text.endsWith('}\n'), 'ends with a newline like Go’s encoder');
      const uploaded = JSON.parse(text) as Record<string, unknown>;
      const localMeta = JSON.parse(readFileSync(join(dir, m.ulid, 'meta.json'), 'utf8')) as Record<string, unknown>;
      const { thanos, ...rest } = uploaded;
      assert.deepEqual(rest, localMeta, 'the TSDB part is unchanged');
      const sizes = local(m).filter((f) => f !== 'meta.json').map((f) => ({ rel_path: f, size_bytes: readFileSync(join(dir, m.ulid, f)).length }));
      const wantFiles = [...sizes, { rel_path: 'meta.json' }].sort((a, b) => Buffer.compare(Buffer.from(a.rel_path), Buffer.from(b.rel_path)));
      assert.deepEqual(thanos, {
        version: 1,
        labels: { cluster: 'eu1', replica: 'a', tenant_id: 'acme' },
        downsample: { resolution: 0 },
        source: 'receive',
        segment_files: local(m).filter((f) => f.startsWith('chunks/')).map((f) => f.slice(7)),
        files: wantFiles,
      });
      // Field order as Thanos's Go structs (and sorted label names, as Go encodes maps).
      assert.deepEqual(Object.keys(thanos as object), ['version', 'labels', 'downsample', 'source', 'segment_files', 'files']);
      assert.deepEqual(Object.keys((thanos as { labels: object }).labels), ['cluster', 'replica', 'tenant_id']);
      assert.equal(decodeMeta(text).ulid, m.ulid, 'our own reader accepts it');
    }
    // thanos.shipper.json, exactly as Thanos writes it.
    assert.equal(
      readFileSync(join(dir, SHIPPER_META_FILENAME), 'utf8'),
      `{\n\t"version": 1,\n\t"uploaded": [\n\t\t"${older.ulid}",\n\t\t"${newer.ulid}"\n\t]\n}\n`,
    );
    // Nothing more to do.
    bucket.ops.length = 0;
    assert.deepEqual((await s.sync()).uploaded, []);
    assert.deepEqual(bucket.ops, [], 'a recorded block costs no bucket call');
  });

  test('restart: recorded blocks are not uploaded again; without the file, the bucket check prevents a double block', async () => {
    const dir = fresh('restart');
    const a = await makeBlock(dir, 0);
    const bucket = new RecordingBucket(new MemoryBucket());
    await shipper(dir, bucket).sync();
    const b = await makeBlock(dir, 2 * HOUR);
    bucket.ops.length = 0;
    // A new process: only the new block goes up.
    const s2 = shipper(dir, bucket);
    assert.deepEqual((await s2.sync()).uploaded, [b.ulid]);
    assert.ok(bucket.writes().every((o) => o.key.startsWith(b.ulid)), 'only the new block was written');
    // The shipper file lost: both blocks are found complete in the bucket and recorded, nothing is re-sent.
    rmSync(join(dir, SHIPPER_META_FILENAME));
    bucket.ops.length = 0;
    const { logger, lines } = capture();
    const s3 = shipper(dir, bucket, { logger });
    assert.deepEqual((await s3.sync()).uploaded, []);
    assert.deepEqual(bucket.writes(), []);
    assert.equal(s3.metrics.alreadyInBucket, 2);
    assert.ok(lines.some((l) => l.includes('already complete in the bucket') && l.includes(a.ulid)));
    assert.deepEqual(decodeShipperMeta(readFileSync(join(dir, SHIPPER_META_FILENAME), 'utf8')), [a.ulid, b.ulid]);
    // A corrupt file is reported and rebuilt the same way.
    writeFileSync(join(dir, SHIPPER_META_FILENAME), '{"version": 1, "uploaded": ["not-a-ulid"]}');
    const c = capture();
    await shipper(dir, bucket, { logger: c.logger }).sync();
    assert.ok(c.lines.some((l) => l.includes('shipper file is invalid') && l.includes('not-a-ulid')), c.lines.join(''));
    assert.deepEqual(decodeShipperMeta(readFileSync(join(dir, SHIPPER_META_FILENAME), 'utf8')), [a.ulid, b.ulid]);
    // A block deleted locally drops out of the file.
    rmSync(join(dir, a.ulid), { recursive: true });
    await shipper(dir, bucket).sync();
    assert.deepEqual(decodeShipperMeta(readFileSync(join(dir, SHIPPER_META_FILENAME), 'utf8')), [b.ulid]);
  });

  test('a failing bucket: the block stays pending, is retried after a backoff, and is uploaded exactly once', async () => {
    const dir = fresh('failing');
    const a = await makeBlock(dir, 0, 30, { segmentSize: 8 * 1024 });
    const b = await makeBlock(dir, 2 * HOUR);
    const bucket = new RecordingBucket(new MemoryBucket());
    // The first chunk file goes up; the second fails, twice in a row (then the store recovers).
    let failures = 0;
    bucket.failWhen = (op, key) => op === 'putFile' && key === `${a.ulid}/chunks/000002` && failures++ < 2;
    let now = 1_000_000;
    const { logger, lines } = capture();
    const s = shipper(dir, bucket, { logger, now: () => now, backoffMinMs: 1000 });

    const r1 = await s.sync();
    assert.deepEqual(r1, { uploaded: [], failed: [a.ulid], pending: 2, backedOff: false });
    assert.equal(s.metrics.uploadFailures, 1);
    const err = lines.find((l) => l.includes('level=error'));
    assert.ok(err && err.includes(a.ulid) && err.includes('injected failure') && err.includes('retry_in_ms=1000'), err);
    assert.deepEqual(await keys(bucket), [], 'the partial upload was cleaned up; no meta.json, no block');
    assert.equal((await s.sync()).backedOff, true, 'within the backoff nothing is tried');
    now += 1000;
    const r2 = await s.sync();
    assert.deepEqual(r2.failed, [a.ulid]);
    assert.ok(lines.some((l) => l.includes('retry_in_ms=2000')), 'the backoff doubles');
    now += 1000;
    assert.equal((await s.sync()).backedOff, true);
    now += 1000;
    const r3 = await s.sync();
    assert.deepEqual(r3, { uploaded: [a.ulid, b.ulid], failed: [], pending: 0, backedOff: false });
    assert.equal(s.metrics.uploads, 2);
    assert.equal(s.metrics.uploadFailures, 2);
    // Exactly once: one meta.json put per block, and the bucket holds exactly the local files.
    assert.equal(bucket.writes().filter((o) => o.key.endsWith('/meta.json')).length, 2);
    for (const m of [a, b]) assert.deepEqual(await keys(bucket, `${m.ulid}/`), files(join(dir, m.ulid)).map((f) => `${m.ulid}/${f}`));
    now += 10 * HOUR;
    assert.deepEqual((await s.sync()).uploaded, []);
    assert.equal(bucket.writes().filter((o) => o.key.endsWith('/meta.json')).length, 2, 'no second upload later');
  });

  test('a failed meta.json put leaves the block pending; the retry completes it', async () => {
    const dir = fresh('meta-fails');
    const a = await makeBlock(dir, 0);
    const bucket = new RecordingBucket(new MemoryBucket());
    let once = true;
    bucket.failWhen = (op, key) => op === 'put' && key.endsWith('/meta.json') && (once ? !(once = false) : false);
    const s = shipper(dir, bucket, { backoffMinMs: 0 });
    assert.deepEqual((await s.sync()).failed, [a.ulid]);
    assert.equal(await bucket.exists(`${a.ulid}/meta.json`), false);
    assert.deepEqual((await s.sync()).uploaded, [a.ulid]);
    assert.equal(await bucket.exists(`${a.ulid}/meta.json`), true);
  });

  test('a half-uploaded block (files but no meta.json) is uploaded again entirely', async () => {
    const dir = fresh('half');
    const a = await makeBlock(dir, 0);
    const inner = new MemoryBucket();
    // What a crash mid-upload leaves: the chunks and a torn index, no meta.json.
    await inner.putFile(`${a.ulid}/chunks/000001`, join(dir, a.ulid, 'chunks', '000001'));
    await inner.put(`${a.ulid}/index`, new Uint8Array([1, 2, 3]));
    const bucket = new RecordingBucket(inner);
    const s = shipper(dir, bucket);
    assert.deepEqual((await s.sync()).uploaded, [a.ulid]);
    assert.deepEqual(
      bucket.writes().map((o) => o.key),
      ['chunks/000001', 'index', 'tombstones', 'meta.json'].map((f) => `${a.ulid}/${f}`),
    );
    assert.ok(Buffer.from(await inner.get(`${a.ulid}/index`)).equals(readFileSync(join(dir, a.ulid, 'index'))), 'the torn index was replaced');
  });

  test('only complete, non-empty, level-1 blocks are shipped; a broken one is reported once and skipped', async () => {
    const dir = fresh('select');
    const good = await makeBlock(dir, 0);
    const compacted = await makeBlock(dir, 2 * HOUR, 3, { level: 2 });
    const empty = await writeBlock(dir, [], { minT: 4 * HOUR, maxT: 6 * HOUR });
    mkdirSync(join(dir, `${encodeUlid(1, new Uint8Array(10))}.tmp-for-creation`, 'chunks'), { recursive: true });
    mkdirSync(join(dir, encodeUlid(2, new Uint8Array(10)), 'chunks'), { recursive: true }); // no meta.json yet
    const broken = encodeUlid(3, new Uint8Array(10));
    mkdirSync(join(dir, broken));
    writeFileSync(join(dir, broken, 'meta.json'), '{"version": 1, "ulid": ');
    mkdirSync(join(dir, 'wal'));
    const bucket = new RecordingBucket(new MemoryBucket());
    const { logger, lines } = capture();
    const s = shipper(dir, bucket, { logger });
    assert.deepEqual((await s.sync()).uploaded, [good.ulid]);
    await s.sync();
    assert.equal(lines.filter((l) => l.includes(broken)).length, 1, 'reported once');
    assert.ok(lines.find((l) => l.includes(broken))!.includes('not valid JSON'));
    assert.equal(await bucket.exists(`${empty.ulid}/meta.json`), false);
    // Compacted blocks go up when asked to.
    assert.deepEqual((await shipper(dir, bucket, { uploadCompacted: true }).sync()).uploaded, [compacted.ulid]);
  });

  test('thanos.shipper.json decoder: round trip, and clear errors for anything else (property)', () => {
    const ulid = fc.tuple(fc.integer({ min: 0, max: 2 ** 48 - 1 }), fc.uint8Array({ minLength: 10, maxLength: 10 })).map(([t, r]) => encodeUlid(t, r));
    fc.assert(
      fc.property(fc.array(ulid, { maxLength: 20 }), (list) => {
        assert.deepEqual(decodeShipperMeta(encodeShipperMeta(list)), list);
      }),
      { numRuns: 200 },
    );
    const check = (text: string): void => {
      try {
        const got = decodeShipperMeta(text, 'F');
        assert.ok(Array.isArray(got) && got.every((u) => /^[0-9A-HJKMNP-TV-Z]{26}$/.test(u)), `accepted ${text}`);
      } catch (err) {
        assert.ok(err instanceof Error && err.message.startsWith('F: '), `error names the file: ${String(err)}`);
      }
    };
    fc.assert(fc.property(fc.json(), check), { numRuns: 500 });
    fc.assert(fc.property(fc.string(), check), { numRuns: 300 });
    fc.assert(
      fc.property(fc.constantFrom(1, 2, '1', null), fc.oneof(fc.constant(null), fc.array(fc.oneof(ulid, fc.string()), { maxLength: 4 })), (version, uploaded) =>
        check(JSON.stringify({ version, uploaded })),
      ),
      { numRuns: 300 },
    );
    assert.deepEqual(decodeShipperMeta('{"version":1,"uploaded":null}'), []);
  });

  test('promtool tsdb analyze reads a block downloaded back from the bucket', async (t) => {
    const bin = requirePeer(t, 'promtool');
    if (bin === null) return;
    const dir = fresh('promtool-src');
    const m = await makeBlock(dir, 0, 25, { segmentSize: 16 * 1024 });
    const bucket = new FilesystemBucket(fresh('promtool-bucket'));
    await shipper(dir, bucket).sync();
    const data = fresh('promtool-data');
    for (const key of await keys(bucket, `${m.ulid}/`)) {
      const p = join(data, ...key.split('/'));
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, await bucket.get(key));
    }
    const { stdout } = await run(bin, ['tsdb', 'analyze', '--extended', data, m.ulid], { maxBuffer: 1 << 26 });
    assert.match(stdout, new RegExp(`^Block ID: ${m.ulid}$`, 'm'));
    assert.match(stdout, /^Series: 25$/m);
    assert.match(stdout, /^Compaction analysis:$/m, 'every chunk was read');
    const downloaded = decodeMeta(readFileSync(join(data, m.ulid, 'meta.json'), 'utf8'));
    assert.deepEqual(downloaded.thanos?.labels, EXTERNAL);
    t.diagnostic(`promtool: ${stdout.split('\n').slice(0, 4).join('; ')}`);
  });

  test('TSDB onBlockWritten fires after head compaction; the shipper ships that block', async () => {
    const path = fresh('tsdb');
    const seen: [string, string, string][] = [];
    const bucket = new MemoryBucket();
    let shipperFor: Shipper | null = null;
    const db = await TSDB.open({
      path,
      headOptions: () => ({ chunkRangeMs: HOUR }),
      compactIntervalMs: 0,
      logger: nopLogger,
      onBlockWritten: (tenant, blocksDir, ulid) => {
        seen.push([tenant, blocksDir, ulid]);
        shipperFor ??= shipper(blocksDir, bucket);
        shipperFor.trigger(); // how a role wires it: ship soon after each new block
      },
    });
    try {
      const head = await db.head('acme');
      for (let ts = 0; ts <= 2 * HOUR; ts += 60_000) {
        const app = head.appender();
        app.append(0, labelsFromObject({ __name__: 'm', i: '1' }), ts, ts / 1000);
        await app.commit();
      }
      await db.compactHeads();
      assert.equal(seen.length, 1);
      const [tenant, blocksDir, ulid] = seen[0]!;
      assert.equal(tenant, 'acme');
      assert.equal(db.getBlocks('acme').at(-1)!.meta.ulid, ulid, 'called after the block is registered');
      // The triggered sync runs on its own; wait for it (bounded), then stop() waits for anything in flight.
      const s = shipperFor as Shipper | null;
      assert.ok(s !== null);
      for (let i = 0; i < 200 && !(await bucket.exists(`${ulid}/meta.json`)); i++) await new Promise((r) => setTimeout(r, 10));
      await s.stop();
      assert.ok(await bucket.exists(`${ulid}/meta.json`), 'the triggered sync shipped the block');
      assert.equal(s.metrics.uploads, 1);
      assert.ok(readdirSync(blocksDir).includes(SHIPPER_META_FILENAME));
      assert.deepEqual((await s.sync()).uploaded, [], 'already shipped');
    } finally {
      await db.close();
    }
  });
});
