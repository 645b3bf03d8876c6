/**
 * Range reads against a bucket object: many small wanted ranges become few requests by merging ranges
 * whose gap is small (a round trip to object storage costs more than reading a few KiB extra). The merge
 * is bounded two ways so that over-reading stays proportional to what was asked for: a gap larger than
 * `maxGapBytes` always splits, and a part stops absorbing gaps once the bytes it would read for nothing
 * exceed the bytes it reads on purpose (plus a small allowance). A part therefore never reads more than
 * about twice its wanted bytes, which keeps a query's in-flight memory tied to its budget.
 */
import type { Bucket } from '../objstore/index.js';

export interface ByteRange {
  start: number;
  /** Exclusive. */
  end: number;
}

export interface Part {
  start: number;
  end: number;
  /** Indexes into the (sorted) input of the first and last range this part serves. */
  first: number;
  last: number;
}

/** Gaps this small are merged even into a part that is already mostly gap. */
const GAP_ALLOWANCE = 4096;

/** Groups `ranges` (sorted by start; they may overlap) into parts to fetch. */
export function partitionRanges(ranges: readonly ByteRange[], maxGapBytes: number): Part[] {
  const parts: Part[] = [];
  if (ranges.length === 0) return parts;
  let cur: Part = { start: ranges[0]!.start, end: ranges[0]!.end, first: 0, last: 0 };
  let wanted = ranges[0]!.end - ranges[0]!.start;
  let waste = 0;
  for (let i = 1; i < ranges.length; i++) {
    const r = ranges[i]!;
    if (r.start < ranges[i - 1]!.start) throw new Error(`partitionRanges: ranges are not sorted (${r.start} after ${ranges[i - 1]!.start})`);
    const gap = Math.max(0, r.start - cur.end);
    const len = Math.max(0, r.end - Math.max(r.start, cur.end));
    if (gap <= maxGapBytes && waste + gap <= wanted + len + GAP_ALLOWANCE) {
      cur.end = Math.max(cur.end, r.end);
      cur.last = i;
      wanted += len;
      waste += gap;
      continue;
    }
    parts.push(cur);
    cur = { start: r.start, end: r.end, first: i, last: i };
    wanted = r.end - r.start;
    waste = 0;
  }
  parts.push(cur);
  return parts;
}

/** Counters of the requests a store sends (shared by every block of a store). */
export interface FetchStats {
  /** Range requests sent. */
  requests: number;
  /** Bytes those requests returned. */
  bytesFetched: number;
  /** Items read a second time because the first read's size estimate was too small. */
  refetches: number;
  /** Whole-object reads (meta.json, tombstones); index and chunk files are never read whole. */
  objectGets: number;
}

export function newFetchStats(): FetchStats {
  return { requests: 0, bytesFetched: 0, refetches: 0, objectGets: 0 };
}

/** Requests in flight per `fetchParts` call: enough to hide latency, few enough not to flood a backend. */
const PART_CONCURRENCY = 8;

/**
 * Fetches the parts covering `ranges` from `key`; returns, for each input range, the bytes the object
 * holds there (a view into the part's buffer; shorter than asked when the object ends first).
 */
export async function fetchRanges(
  bucket: Bucket,
  key: string,
  ranges: readonly ByteRange[],
  maxGapBytes: number,
  stats: FetchStats,
): Promise<Uint8Array[]> {
  const parts = partitionRanges(ranges, maxGapBytes);
  const out: Uint8Array[] = new Array(ranges.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < parts.length) {
      const p = parts[next++]!;
      const buf = await getRange(bucket, key, p.start, p.end - p.start, stats);
      for (let i = p.first; i <= p.last; i++) {
        const r = ranges[i]!;
        const from = Math.min(buf.length, r.start - p.start);
        out[i] = buf.subarray(from, Math.min(buf.length, r.end - p.start));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PART_CONCURRENCY, parts.length) }, worker));
  return out;
}

/** One counted range request. */
export async function getRange(bucket: Bucket, key: string, offset: number, length: number, stats: FetchStats): Promise<Uint8Array> {
  stats.requests++;
  let buf: Uint8Array;
  try {
    buf = await bucket.getRange(key, offset, length);
  } catch (err) {
    throw annotate(err, `reading ${length} bytes at offset ${offset} of ${key} from ${bucket.name}`);
  }
  stats.bytesFetched += buf.length;
  return buf;
}

/** Prefixes an error's message with what was being done, keeping its class (ObjectNotFoundError stays one). */
export function annotate(err: unknown, what: string): Error {
  if (err instanceof Error) {
    if (!err.message.startsWith(what)) err.message = `${what}: ${err.message}`;
    return err;
  }
  return new Error(`${what}: ${String(err)}`);
}

/** Runs `fn` over `items`, at most `n` at a time; the first failure rejects (the others run to their end). */
export async function forEachLimited<T>(items: readonly T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}
