/** Test support for TSDB blocks: XOR chunks cut from sample columns, and block directories uploaded to a bucket. */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import type { Labels } from '../../src/model/labels.js';
import type { Bucket } from '../../src/objstore/index.js';
import type { BlockChunkInput, BlockSeriesInput } from '../../src/tsdb/block/index.js';
import { XorChunk } from '../../src/tsdb/chunkenc/index.js';

/** Sample columns; keep values in a Float64Array where NaN payloads (stale markers) matter. */
export interface SampleColumns {
  ts: ArrayLike<number>;
  vs: ArrayLike<number>;
}

/** XOR chunks of at most `per` samples (the last one shorter), as the head cuts them with the default 120. */
export function xorChunks(s: SampleColumns, per = 120): BlockChunkInput[] {
  const chunks: BlockChunkInput[] = [];
  for (let i = 0; i < s.ts.length; i += per) {
    const c = new XorChunk();
    const app = c.appender();
    const end = Math.min(s.ts.length, i + per);
    for (let j = i; j < end; j++) app.append(s.ts[j]!, s.vs[j]!);
    chunks.push({ minT: s.ts[i]!, maxT: s.ts[end - 1]!, bytes: c.bytes().slice() });
  }
  return chunks;
}

/** A series for `writeBlock`: its labels and XOR chunks of at most `per` samples. */
export function toChunks(s: SampleColumns & { labels: Labels }, per = 120): BlockSeriesInput {
  return { labels: s.labels, chunks: xorChunks(s, per) };
}

/**
 * Uploads the block in `dir` (named by its ULID) under `prefix`: segments, index and tombstones first,
 * meta.json last, as a shipper does. `skipMeta` leaves meta.json out (a partial upload).
 */
export async function uploadBlockDir(bucket: Bucket, dir: string, opts: { prefix?: string; skipMeta?: boolean } = {}): Promise<string> {
  const ulid = dir.split('/').pop()!;
  const base = `${opts.prefix ?? ''}${ulid}/`;
  for (const seg of readdirSync(join(dir, 'chunks')).sort()) {
    await bucket.put(`${base}chunks/${seg}`, new Uint8Array(readFileSync(join(dir, 'chunks', seg))));
  }
  await bucket.put(`${base}index`, new Uint8Array(readFileSync(join(dir, 'index'))));
  if (existsSync(join(dir, 'tombstones'))) await bucket.put(`${base}tombstones`, new Uint8Array(readFileSync(join(dir, 'tombstones'))));
  if (!opts.skipMeta) await bucket.put(`${base}meta.json`, new Uint8Array(readFileSync(join(dir, 'meta.json'))));
  return ulid;
}
