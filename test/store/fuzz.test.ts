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
  checkChunkRecordAt,
  chunkCount,
  chunkMaxT,
  chunkMinT,
  chunkRecord,
  chunkRecordSize,
  chunkRef,
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
        await clear(() => {
          // In place, at any position: a clear error, or a span inside the buffer.
          const span = { start: -1, end: -1 };
          const pos = bytes.length === 0 ? 0 : id % bytes.length;
          checkChunkRecordAt(bytes, pos, file, id, span);
          assert.ok(pos < span.start && span.start < span.end && span.end + 4 <= bytes.length, JSON.stringify(span));
          assert.equal(chunkRecordSize(bytes, pos, file, id), span.end + 4 - pos);
        });
        await clear(() => parseSymbols(bytes, file));
        await clear(() => parsePostingsTable(bytes, file, symbols, 5, 10_000));
        await clear(() => parseToc(bytes.slice(0, 52), file, 10_000));
      }),
      { numRuns: 1500, seed: 99 },
    );
  });
});

describe('series entries round trip', () => {
  /** A series body as the index writer lays it out: label refs, then chunk metas delta-encoded. */
  function encodeBody(refs: number[], metas: [number, number, number][]): Uint8Array {
    const out: number[] = [];
    const uv = (v: number): void => {
      while (v >= 0x80) {
        out.push((v % 0x80) | 0x80);
        v = Math.floor(v / 0x80);
      }
      out.push(v);
    };
    const zz = (v: number): void => uv(v >= 0 ? v * 2 : -v * 2 - 1);
    uv(refs.length / 2);
    for (const r of refs) uv(r);
    uv(metas.length);
    let prevMax = 0;
    let prevRef = 0;
    metas.forEach(([minT, maxT, ref], i) => {
      if (i === 0) {
        zz(minT);
        uv(maxT - minT);
        uv(ref);
      } else {
        uv(minT - prevMax);
        uv(maxT - minT);
        zz(ref - prevRef);
      }
      prevMax = maxT;
      prevRef = ref;
    });
    return Uint8Array.from(out);
  }

  test('decodeSeriesBody gives back the labels and chunk metas written', () => {
    const symbols = ['__name__', 'a', 'b', 'job', 'up', 'x'];
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 2 }), { maxLength: 3 }).map((names) => names.sort().flatMap((n) => [[0, 2, 3][n]!, 1 + ((n * 7) % 5)])),
        fc.integer({ min: -(2 ** 45), max: 2 ** 45 }),
        fc.array(fc.record({ gap: fc.nat(2 ** 33), span: fc.nat(2 ** 33), ref: fc.integer({ min: 8, max: 2 ** 40 }) }), { maxLength: 40 }),
        fc.nat(10_000),
        (refs, t0, raw, id) => {
          const metas: [number, number, number][] = [];
          let t = t0;
          for (const c of raw) {
            const minT = metas.length === 0 ? t : t + c.gap;
            const maxT = minT + c.span;
            metas.push([minT, maxT, c.ref]);
            t = maxT;
          }
          const e = decodeSeriesBody(encodeBody(refs, metas), 'rt:index', id, symbols);
          assert.equal(e.id, id);
          assert.deepEqual([...e.labels], refs.map((r) => symbols[r]!));
          assert.deepEqual([...e.metas], metas.flat());
          for (let i = 0; i < metas.length; i++) {
            assert.deepEqual([chunkMinT(e, i), chunkMaxT(e, i), chunkRef(e, i)], metas[i]);
          }
          assert.equal(chunkCount(e), metas.length);
        },
      ),
      { numRuns: 1000, seed: 17 },
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

  test('ByteLru: never above budget, evicts least recently used first, returns what was stored unless evicted', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4096 }),
        fc.array(
          fc.record({ space: fc.nat(2), kind: fc.constantFrom('postings', 'series', 'chunks'), k: fc.nat(8), size: fc.nat(1500), op: fc.constantFrom('get', 'set', 'set', 'drop') }),
          { maxLength: 200 },
        ),
        (budget, ops) => {
          const c = new ByteLru(budget);
          // Model: entries in recency order (oldest first), with their cost.
          const model: { id: string; value: Uint8Array; cost: number }[] = [];
          const spaces = ['a', 'b', 'c'].map((n) => c.space(n));
          for (const op of ops) {
            const name = ['a', 'b', 'c'][op.space]!;
            const id = `${name}/${op.kind}/${op.k}`;
            const at = model.findIndex((e) => e.id === id);
            if (op.op === 'get') {
              const v = c.get<Uint8Array>(spaces[op.space]!, op.kind as 'postings', op.k);
              if (at < 0) assert.equal(v, undefined, `${id} was never stored or was evicted`);
              else {
                assert.equal(v, model[at]!.value);
                model.push(...model.splice(at, 1));
              }
            } else if (op.op === 'set') {
              const value = new Uint8Array(op.size);
              if (at >= 0) model.splice(at, 1);
              c.set(spaces[op.space]!, op.kind as 'postings', op.k, value, ByteLru.arrayCost(value));
              const cost = ByteLru.arrayCost(value) + 96;
              if (cost <= c.maxItemBytes) {
                let used = model.reduce((n, e) => n + e.cost, 0);
                while (used + cost > budget && model.length > 0) used -= model.shift()!.cost;
                model.push({ id, value, cost });
              }
            } else {
              c.dropBlock(name);
              spaces[op.space] = c.space(name);
              for (let i = model.length - 1; i >= 0; i--) if (model[i]!.id.startsWith(`${name}/`)) model.splice(i, 1);
            }
            assert.ok(c.stats.bytes <= budget && c.stats.peakBytes <= budget);
            assert.equal(c.stats.items, model.length);
            assert.equal(c.stats.bytes, model.reduce((n, e) => n + e.cost, 0));
          }
        },
      ),
      { numRuns: 500, seed: 6 },
    );
  });
});
