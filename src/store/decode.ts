/**
 * Decoders for the pieces the store gateway reads by range: a postings list, a series entry, a chunk
 * record. Each works on bytes read at a known file offset (`at`), checks the CRC, and reports malformed
 * input as a BlockFormatError naming the file and the absolute offset. Reads are sized by estimate, so the
 * "how long is it" step is separate: it says how many bytes the item needs, and the caller reads again when
 * its first read was short.
 */
import type { Labels } from '../model/labels.js';
import { readUvarint } from '../codec/varint.js';
import { crc32c } from '../codec/crc32c.js';
import { BlockFormatError, Decoder, checkCrc } from '../tsdb/block/encoding.js';
import { rebased } from './index-header.js';

export interface ChunkMeta {
  minT: number;
  /** Inclusive. */
  maxT: number;
  /** Segment index << 32 | offset. */
  ref: number;
}

export interface SeriesEntry {
  /** Series id (offset / 16). */
  id: number;
  /** Label pairs in the model's order (UTF-16 name order). */
  labels: Labels;
  chunks: ChunkMeta[];
}

const MAX_UVARINT32 = 5;

/** A postings list `len(4) count(4) ids(4 each) CRC(4)` at the start of `buf` (read at `at`). */
export function decodePostings(buf: Uint8Array, file: string, at: number, what: string): Uint32Array {
  return rebased(at, () => {
    const head = new Decoder(buf, file);
    const len = head.be32(`${what} length`);
    head.need(len + 4, what);
    checkCrc(buf, file, 4, 4 + len, what);
    const d = new Decoder(buf, file, 4, 4 + len);
    const n = d.be32(`${what} count`);
    if (d.remaining() !== 4 * n) d.fail(`${what}: ${n} entries need ${4 * n} bytes, the list has ${d.remaining()}`);
    const out = new Uint32Array(n);
    let prev = -1;
    for (let i = 0; i < n; i++) {
      const id = d.be32(what);
      if (id <= prev) d.fail(`${what}: series ids not increasing (${id} after ${prev})`, d.pos - 4);
      out[i] = prev = id;
    }
    return out;
  });
}

/**
 * Bytes a length-prefixed item at the start of `buf` occupies in total (`uvarint len` + `len` + `extra`),
 * or -1 when `buf` is too short to hold even the length.
 */
export function itemLength(buf: Uint8Array, file: string, at: number, extra: number, what: string): number {
  const [len, p] = readUvarint(buf, 0, Math.min(buf.length, MAX_UVARINT32));
  if (p === -1) {
    if (buf.length >= MAX_UVARINT32) throw new BlockFormatError(file, at, `${what}: length varint longer than 5 bytes`);
    return -1;
  }
  if (p < 0) throw new BlockFormatError(file, at, `${what}: bad length varint`);
  return p + len + extra;
}

/**
 * The body of the series entry at the start of `buf` (`uvarint len | body | CRC`), CRC-checked, as a copy
 * (the caller may cache it). `buf` must hold the whole entry (see itemLength).
 */
export function seriesEntryBody(buf: Uint8Array, file: string, id: number): Uint8Array {
  const at = id * 16;
  const what = `series ${id}`;
  return rebased(at, () => {
    const d = new Decoder(buf, file);
    const len = d.uvarint(`${what} length`);
    d.need(len + 4, what);
    checkCrc(buf, file, d.pos, d.pos + len, what);
    return buf.slice(d.pos, d.pos + len);
  });
}

/**
 * Decodes a series entry body: labels as symbol references, then chunk metas (first mint as a varint, then
 * per chunk maxt-mint, mint as a delta to the previous maxt, ref as a delta to the previous ref).
 */
export function decodeSeriesBody(body: Uint8Array, file: string, id: number, symbols: readonly string[]): SeriesEntry {
  const what = `series ${id}`;
  // The body starts after the length varint; error offsets point at the entry's start, which is what a
  // reader can look up.
  const at = id * 16;
  return rebased(at, () => {
    const d = new Decoder(body, file);
    const nLabels = d.uvarint(`${what} label count`);
    if (nLabels * 2 > d.remaining()) d.fail(`${what}: ${nLabels} labels cannot fit in ${d.remaining()} bytes`);
    const labels: string[] = new Array(nLabels * 2);
    for (let i = 0; i < nLabels * 2; i++) {
      const r = d.uvarint(`${what} symbol ref`);
      const s = symbols[r];
      if (s === undefined) d.fail(`${what}: symbol ref ${r} out of range (${symbols.length} symbols)`, d.pos - 1);
      labels[i] = s;
    }
    const nChunks = d.uvarint(`${what} chunk count`);
    if (nChunks * 3 > d.remaining()) d.fail(`${what}: ${nChunks} chunk metas cannot fit in ${d.remaining()} bytes`);
    const chunks: ChunkMeta[] = new Array(nChunks);
    if (nChunks > 0) {
      let minT = d.varint(`${what} chunk 0 mint`);
      let maxT = minT + d.uvarint(`${what} chunk 0 maxt delta`);
      let ref = d.uvarint(`${what} chunk 0 ref`);
      chunks[0] = { minT, maxT, ref };
      for (let i = 1; i < nChunks; i++) {
        minT = maxT + d.uvarint(`${what} chunk ${i} mint delta`);
        maxT = minT + d.uvarint(`${what} chunk ${i} maxt delta`);
        ref += d.varint(`${what} chunk ${i} ref delta`);
        if (!Number.isSafeInteger(maxT) || ref < 0) d.fail(`${what}: chunk ${i} meta out of range`);
        chunks[i] = { minT, maxT, ref };
      }
    }
    if (d.remaining() !== 0) d.fail(`${what}: ${d.remaining()} unexpected bytes after the chunk metas`);
    return { id, labels: modelOrdered(labels), chunks };
  });
}

/** Label pairs as the model orders them (UTF-16 name order); the index orders them by UTF-8. */
function modelOrdered(ls: string[]): Labels {
  for (let i = 2; i < ls.length; i += 2) {
    if (ls[i - 2]! >= ls[i]!) {
      const pairs: [string, string][] = [];
      for (let j = 0; j < ls.length; j += 2) pairs.push([ls[j]!, ls[j + 1]!]);
      pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      return Object.freeze(pairs.flat());
    }
  }
  return Object.freeze(ls);
}

/** A chunk as read from a segment: the encoding byte and the data, copied out of the read buffer. */
export interface ChunkRecord {
  encoding: number;
  bytes: Uint8Array;
}

/**
 * The chunk record at the start of `buf` (`uvarint len | encoding | data | CRC over encoding+data`),
 * CRC-checked. Returns one copied array holding the encoding byte followed by the data, the form the cache
 * keeps. `buf` must hold the whole record (see itemLength with extra = 1 + 4).
 */
export function chunkRecord(buf: Uint8Array, file: string, at: number): Uint8Array {
  const [len, p] = readUvarint(buf, 0, Math.min(buf.length, MAX_UVARINT32));
  if (p < 0) throw new BlockFormatError(file, at, 'chunk length: bad varint');
  const dataEnd = p + 1 + len;
  if (dataEnd + 4 > buf.length) {
    throw new BlockFormatError(file, at, `chunk of ${len} bytes runs past the end of the segment (${buf.length} bytes available)`);
  }
  const want = ((buf[dataEnd]! << 24) | (buf[dataEnd + 1]! << 16) | (buf[dataEnd + 2]! << 8) | buf[dataEnd + 3]!) >>> 0;
  const got = crc32c(buf, 0, p, dataEnd);
  if (want !== got) {
    throw new BlockFormatError(file, at, `chunk checksum mismatch (stored ${want.toString(16)}, computed ${got.toString(16)})`);
  }
  return buf.slice(p, dataEnd);
}

/** Splits a cached chunk record into encoding and data (a view). */
export function splitChunk(rec: Uint8Array): ChunkRecord {
  return { encoding: rec[0]!, bytes: rec.subarray(1) };
}
