/**
 * The `tombstones` file: magic 0x0130BA30, format byte 1, then `uvarint seriesRef, varint mint, varint
 * maxt` per deleted interval, and a CRC-32C of the records (the format byte is not covered, as in
 * Prometheus). New blocks carry an empty one; blocks made by Prometheus may carry deletions, which the
 * reader applies.
 */
import { crc32c } from '../../codec/crc32c.js';
import { ByteWriter, Decoder, BlockFormatError } from './encoding.js';

export const TOMBSTONES_MAGIC = 0x0130ba30;
export const TOMBSTONES_FORMAT_V1 = 1;
export const TOMBSTONES_FILENAME = 'tombstones';

/** Deleted [mint, maxt] intervals (inclusive) per series ref, sorted and merged. */
export type Tombstones = Map<number, number[]>;

export function encodeTombstones(stones: Tombstones = new Map()): Uint8Array {
  const w = new ByteWriter(16);
  w.be32(TOMBSTONES_MAGIC);
  w.u8(TOMBSTONES_FORMAT_V1);
  const start = w.len;
  for (const ref of [...stones.keys()].sort((a, b) => a - b)) {
    const iv = stones.get(ref)!;
    for (let i = 0; i < iv.length; i += 2) {
      w.uvarint(ref);
      w.varint(iv[i]!);
      w.varint(iv[i + 1]!);
    }
  }
  w.crcFrom(start);
  return w.view().slice();
}

export function decodeTombstones(buf: Uint8Array, file = TOMBSTONES_FILENAME): Tombstones {
  if (buf.length < 9) throw new BlockFormatError(file, 0, `file has only ${buf.length} bytes`);
  const d = new Decoder(buf, file, 0, buf.length - 4);
  const magic = d.be32('magic');
  if (magic !== TOMBSTONES_MAGIC) d.fail(`bad magic 0x${magic.toString(16)} (want 0x130ba30)`, 0);
  const version = d.u8('format');
  if (version !== TOMBSTONES_FORMAT_V1) d.fail(`unsupported tombstones format ${version}`, 4);
  const want = ((buf[d.end]! << 24) | (buf[d.end + 1]! << 16) | (buf[d.end + 2]! << 8) | buf[d.end + 3]!) >>> 0;
  if (crc32c(buf, 0, d.pos, d.end) !== want) d.fail('checksum mismatch', d.end);
  const raw = new Map<number, number[]>();
  while (d.remaining() > 0) {
    const ref = d.uvarint('series ref');
    const mint = d.varintUnbounded('mint');
    const maxt = d.varintUnbounded('maxt');
    let list = raw.get(ref);
    if (list === undefined) raw.set(ref, (list = []));
    list.push(mint, maxt);
  }
  const out: Tombstones = new Map();
  for (const [ref, list] of raw) out.set(ref, mergeIntervals(list));
  return out;
}

/** Sorts flat [min, max, min, max, …] intervals and merges overlapping or adjacent ones. */
export function mergeIntervals(flat: number[]): number[] {
  const pairs: [number, number][] = [];
  for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
  pairs.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [lo, hi] of pairs) {
    const n = out.length;
    if (n > 0 && lo <= out[n - 1]! + 1) out[n - 1] = Math.max(out[n - 1]!, hi);
    else out.push(lo, hi);
  }
  return out;
}
