/**
 * Property and fuzz tests of the store gateway's decoders and planners: corrupted index files and chunk
 * segments in the bucket (flipped bytes, truncation) and arbitrary bytes fed to each decoder give a clear
 * Error naming the object and offset, or a correct answer, never a TypeError/RangeError, a crash or a
 * hang; the range partitioner and the LRU keep their invariants for arbitrary input.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';

import { Matcher, MatchType } from '../../src/model/matcher.js';
import { MemoryBucket } from '../../src/objstore/index.js';
import { BlockFormatError, writeBlock } from '../../src/tsdb/block/index.js';
import {
  BucketStore,
  ByteLru,
  chunkRecord,
  decodePostings,
  decodeSeriesBody,
  itemLength,
  parsePostingsTable,
  parseSymbols,
  parseToc,
  partitionRanges,
  seriesEntryBody,
} from '../../src/store/index.js';
import { makeSeries, readSet, toChunks } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'argus-store-fuzz-'));
after(() => rmSync(root, { recursive: true, force: true }));

const H = 3_600_000;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % (2 * H));

/** A failure the store may report: an Error (not a programming error) that says where. */
function assertClearError(err: unknown, mustName: string): void {
  assert.ok(err instanceof Error, `not an Error: ${String(err)}`);
  assert.ok(!(err instanceof TypeError) && !(err instanceof RangeError), `${err.name}: ${err.message}\n${err.stack}`);
  assert.ok(err.message.includes(mustName), `message does not name ${mustName}: ${err.message}`);
}

describe('corrupted block files in the bucket', () => {
  let ulid = '';
  let files: Map<string, Uint8Array>;

  before(async () => {
    const meta = await writeBlock(root, makeSeries(99, 24, T0, T0 + 2 * H, 30_000).map((s) => toChunks(s)), { minT: T0, maxT: T0 + 2 * H });
    ulid = meta.ulid;
    const dir = join(root, ulid);
    files = new Map([
      ['meta.json', new Uint8Array(readFileSync(join(dir, 'meta.json')))],
      ['index', new Uint8Array(readFileSync(join(dir, 'index')))],
    ]);
    for (const s of readdirSync(join(dir, 'chunks'))) files.set(`chunks/${s}`, new Uint8Array(readFileSync(join(dir, 'chunks', s))));
  });

  /** Loads the block with `file` replaced and queries it; returns what happened. */
  async function exercise(file: string, bytes: Uint8Array): Promise<'ok' | 'sync failed' | 'query failed'> {
    const bucket = new MemoryBucket();
    for (const [name, body] of files) await bucket.put(`${ulid}/${name}`, name === file ? bytes : body);
    const store = new BucketStore({ bucket, cacheBytes: 32 * 1024, chunkSizeEstimate: 64 });
    const res = await store.sync();
    if (res.failed.length > 0) {
      assert.equal(res.failed[0]!.ulid, ulid);
      assertClearError(new Error(res.failed[0]!.error), `${ulid}/${file.startsWith('chunks') ? 'index' : file}`);
      return 'sync failed';
    }
    const q = store.querier();
    try {
      const hints = { start: T0, end: T0 + 2 * H };
      await readSet(q.select(hints, [new Matcher(MatchType.NotEqual, 'job', 'db')]));
      await readSet(q.select(hints, [new Matcher(MatchType.Regexp, '__name__', '.+')]));
      await q.labelValues('instance', hints, [new Matcher(MatchType.Equal, 'env', '')]);
      return 'ok';
    } catch (err) {
      assertClearError(err, ulid);
      return 'query failed';
    }
  }

  test('flipped bytes and truncation of the index: a clear error or a right answer', { timeout: 60_000 }, async (t) => {
    const index = files.get('index')!;
    const seen = { ok: 0, 'sync failed': 0, 'query failed': 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ pos: fc.nat(index.length - 1), xor: fc.integer({ min: 1, max: 255 }) }), { minLength: 1, maxLength: 4 }),
        fc.option(fc.nat(index.length), { freq: 4 }),
        async (flips, cut) => {
          let b = index.slice();
          for (const f of flips) b[f.pos]! ^= f.xor;
          if (cut !== null) b = b.slice(0, cut);
          seen[await exercise('index', b)]++;
        },
      ),
      { numRuns: 250, seed: 424242 },
    );
    t.diagnostic(`250 corrupted indexes: ${JSON.stringify(seen)}`);
    assert.ok(seen['sync failed'] > 0 && seen['query failed'] + seen.ok > 0, JSON.stringify(seen));
  });

  test('flipped bytes and truncation of a chunk segment: a clear error (checksums) or a right answer', { timeout: 60_000 }, async (t) => {
    const seg = files.get('chunks/000001')!;
    const seen = { ok: 0, 'sync failed': 0, 'query failed': 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ pos: fc.nat(seg.length - 1), xor: fc.integer({ min: 1, max: 255 }) }), { minLength: 1, maxLength: 3 }),
        fc.option(fc.nat(seg.length), { freq: 4 }),
        async (flips, cut) => {
          let b = seg.slice();
          for (const f of flips) b[f.pos]! ^= f.xor;
          if (cut !== null) b = b.slice(0, cut);
          seen[await exercise('chunks/000001', b)]++;
        },
      ),
      { numRuns: 200, seed: 777 },
    );
    t.diagnostic(`200 corrupted segments: ${JSON.stringify(seen)}`);
    // Segment headers are not read by queries; every flip elsewhere breaks a CRC.
    assert.ok(seen['query failed'] > 150, JSON.stringify(seen));
  });
});

describe('decoders on arbitrary bytes', () => {
  const file = 'fuzz:index';
  const clear = async (fn: () => unknown): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      assert.ok(err instanceof BlockFormatError, `${(err as Error).name}: ${(err as Error).message}`);
      assert.ok(err.message.startsWith(`${file}: at offset `), err.message);
    }
  };

  test('postings, series entries, chunk records, symbols, postings table, TOC', async () => {
    const symbols = ['', 'a', 'b', 'job', 'x'];
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), fc.nat(1000), async (bytes, id) => {
        await clear(() => decodePostings(bytes, file, 100, 'postings'));
        await clear(() => {
          const n = itemLength(bytes, file, id * 16, 4, 'series');
          if (n >= 0 && n <= bytes.length) decodeSeriesBody(seriesEntryBody(bytes, file, id), file, id, symbols);
        });
        await clear(() => decodeSeriesBody(bytes, file, id, symbols));
        await clear(() => chunkRecord(bytes, file, id));
        await clear(() => parseSymbols(bytes, file));
        await clear(() => parsePostingsTable(bytes, file, symbols, 5, 10_000));
        await clear(() => parseToc(bytes.slice(0, 52), file, 10_000));
      }),
      { numRuns: 1500, seed: 99 },
    );
  });
});

describe('planners', () => {
  test('partitionRanges: every range lies inside its part, parts ascend without overlap, over-read is bounded', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ start: fc.nat(1 << 20), len: fc.integer({ min: 1, max: 5000 }) }), { maxLength: 60 }),
        fc.nat(1 << 18),
        (raw, gap) => {
          const ranges = raw.map((r) => ({ start: r.start, end: r.start + r.len })).sort((a, b) => a.start - b.start);
          const parts = partitionRanges(ranges, gap);
          let covered = 0;
          for (let i = 0; i < parts.length; i++) {
            const p = parts[i]!;
            if (i > 0) {
              assert.equal(p.first, parts[i - 1]!.last + 1);
              assert.ok(p.start >= parts[i - 1]!.start);
            }
            for (let k = p.first; k <= p.last; k++) {
              assert.ok(ranges[k]!.start >= p.start && ranges[k]!.end <= p.end);
              covered++;
            }
            // Bytes read for nothing stay within the wanted bytes plus the small-gap allowance.
            let wanted = 0;
            let end = -1;
            for (let k = p.first; k <= p.last; k++) {
              wanted += Math.max(0, ranges[k]!.end - Math.max(ranges[k]!.start, end));
              end = Math.max(end, ranges[k]!.end);
            }
            assert.ok(p.end - p.start <= 2 * wanted + 4096, `part ${p.start}-${p.end} wants ${wanted}`);
          }
          assert.equal(covered, ranges.length);
        },
      ),
      { numRuns: 500, seed: 5 },
    );
  });

  test('ByteLru: never above budget, returns what was stored unless evicted', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4096 }),
        fc.array(fc.record({ k: fc.nat(20), size: fc.nat(1500), get: fc.boolean() }), { maxLength: 200 }),
        (budget, ops) => {
          const c = new ByteLru(budget);
          const last = new Map<string, number>();
          for (const op of ops) {
            const key = `b/p/${op.k}`;
            if (op.get) {
              const v = c.get('postings', key);
              if (v !== undefined) assert.equal(v.byteLength, last.get(key));
            } else {
              c.set(key, new Uint8Array(op.size));
              last.set(key, op.size);
            }
            assert.ok(c.stats.bytes <= budget && c.stats.peakBytes <= budget);
            assert.ok(c.stats.bytes >= 0 && c.stats.items >= 0);
          }
        },
      ),
      { numRuns: 500, seed: 6 },
    );
  });
});
