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

export interface SeriesEntry {
  /** Series id (offset / 16). */
  id: number;
  /** Label pairs in the model's order (UTF-16 name order). */
  labels: Labels;
  /**
   * The chunk metas, three numbers per chunk: minT, maxT (inclusive) and ref (segment index << 32 |
   * offset); columns rather than an object per chunk, since a query over days decodes thousands of them.
   */
  metas: Float64Array;
}

/** Chunks in an entry. */
export function chunkCount(e: SeriesEntry): number {
  return e.metas.length / 3;
}
export function chunkMinT(e: SeriesEntry, i: number): number {
  return e.metas[3 * i]!;
}
export function chunkMaxT(e: SeriesEntry, i: number): number {
  return e.metas[3 * i + 1]!;
}
export function chunkRef(e: SeriesEntry, i: number): number {
  return e.metas[3 * i + 2]!;
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
  // The length: a uvarint of at most 5 bytes (entries are far below 4 GiB).
  let len = 0;
  let mul = 1;
  let p = 0;
  for (;;) {
    if (p >= buf.length || p >= MAX_UVARINT32) throw new BlockFormatError(file, at, `series ${id} length: ${p >= buf.length ? 'truncated' : 'overflowing'} varint`);
    const b = buf[p++]!;
    len += (b & 0x7f) * mul;
    if (b < 0x80) break;
    mul *= 128;
  }
  if (p + len + 4 > buf.length) throw new BlockFormatError(file, at + p, `series ${id}: need ${len + 4} bytes, ${buf.length - p} left`);
  const c = p + len;
  const want = ((buf[c]! << 24) | (buf[c + 1]! << 16) | (buf[c + 2]! << 8) | buf[c + 3]!) >>> 0;
  const got = crc32c(buf, 0, p, c);
  if (want !== got) {
    throw new BlockFormatError(file, at + p, `series ${id}: checksum mismatch (stored 0x${want.toString(16).padStart(8, '0')}, computed 0x${got.toString(16).padStart(8, '0')})`);
  }
  return buf.slice(p, c);
}

/**
 * Decodes a series entry body: labels as symbol references, then chunk metas (first mint as a varint, then
 * per chunk maxt-mint, mint as a delta to the previous maxt, ref as a delta to the previous ref). Runs for
 * every series of every block a query touches, warm or cold, so it reads varints in place and builds an
 * error message only when there is an error.
 */
export function decodeSeriesBody(body: Uint8Array, file: string, id: number, symbols: readonly string[]): SeriesEntry {
  const r = new BodyReader(body, file, id);
  const nLabels = r.uv(W_LABEL_COUNT, 0);
  if (nLabels * 2 > r.left()) r.fail(`: ${nLabels} labels cannot fit in ${r.left()} bytes`, r.pos);
  const labels: string[] = new Array(nLabels * 2);
  for (let i = 0; i < nLabels * 2; i++) {
    const ref = r.uv(W_SYMBOL_REF, 0);
    const sym = symbols[ref];
    if (sym === undefined) r.fail(`: symbol ref ${ref} out of range (${symbols.length} symbols)`, r.pos - 1);
    labels[i] = sym!;
  }
  const nChunks = r.uv(W_CHUNK_COUNT, 0);
  if (nChunks * 3 > r.left()) r.fail(`: ${nChunks} chunk metas cannot fit in ${r.left()} bytes`, r.pos);
  const metas = new Float64Array(nChunks * 3);
  if (nChunks > 0) {
    let minT = zigzag(r.uv(W_MINT, 0));
    let maxT = minT + r.uv(W_MAXT_DELTA, 0);
    let ref = r.uv(W_REF, 0);
    metas[0] = minT;
    metas[1] = maxT;
    metas[2] = ref;
    for (let i = 1; i < nChunks; i++) {
      minT = maxT + r.uv(W_MINT_DELTA, i);
      maxT = minT + r.uv(W_MAXT_DELTA, i);
      ref += zigzag(r.uv(W_REF_DELTA, i));
      if (!Number.isSafeInteger(maxT) || ref < 0) r.fail(`: chunk ${i} meta out of range`, r.pos);
      metas[3 * i] = minT;
      metas[3 * i + 1] = maxT;
      metas[3 * i + 2] = ref;
    }
  }
  if (r.left() !== 0) r.fail(`: ${r.left()} unexpected bytes after the chunk metas`, r.pos);
  return { id, labels: modelOrdered(labels), metas };
}

// What a series-body varint is, for error messages (built only on failure).
const W_LABEL_COUNT = 0;
const W_SYMBOL_REF = 1;
const W_CHUNK_COUNT = 2;
const W_MINT = 3;
const W_MAXT_DELTA = 4;
const W_REF = 5;
const W_MINT_DELTA = 6;
const W_REF_DELTA = 7;

function varintName(what: number, chunk: number): string {
  switch (what) {
    case W_LABEL_COUNT:
      return 'label count';
    case W_SYMBOL_REF:
      return 'symbol ref';
    case W_CHUNK_COUNT:
      return 'chunk count';
    case W_MINT:
      return `chunk ${chunk} mint`;
    case W_MAXT_DELTA:
      return `chunk ${chunk} maxt delta`;
    case W_REF:
      return `chunk ${chunk} ref`;
    case W_MINT_DELTA:
      return `chunk ${chunk} mint delta`;
    default:
      return `chunk ${chunk} ref delta`;
  }
}

const zigzag = (u: number): number => (u % 2 === 0 ? u / 2 : -(u + 1) / 2);

/**
 * Reads the varints of a series body in place. Error offsets are the entry's start plus the position in
 * the body, as a reader can look them up.
 */
class BodyReader {
  pos = 0;
  constructor(
    private readonly body: Uint8Array,
    private readonly file: string,
    private readonly id: number,
  ) {}

  left(): number {
    return this.body.length - this.pos;
  }

  fail(msg: string, p: number): never {
    throw new BlockFormatError(this.file, this.id * 16 + p, `series ${this.id}${msg}`);
  }

  /** The uvarint at `pos`, advancing it; `what` and `chunk` name it in an error. */
  uv(what: number, chunk: number): number {
    const body = this.body;
    const p = this.pos;
    let pos = p;
    let v = 0;
    let mul = 1;
    for (;;) {
      if (pos >= body.length) return this.fail(` ${varintName(what, chunk)}: truncated varint`, p);
      const b = body[pos++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) break;
      mul *= 128;
      if (mul > 2 ** 56) return this.fail(` ${varintName(what, chunk)}: overflowing varint`, p);
    }
    if (v > Number.MAX_SAFE_INTEGER) this.fail(` ${varintName(what, chunk)}: ${v} is too large`, p);
    this.pos = pos;
    return v;
  }
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

/**
 * The chunk record at the start of `buf` (`uvarint len | encoding | data | CRC over encoding+data`),
 * CRC-checked. Returns one copied array holding the encoding byte followed by the data. `buf` must hold the
 * whole record (see itemLength with extra = 1 + 4).
 */
export function chunkRecord(buf: Uint8Array, file: string, at: number): Uint8Array {
  const span = { start: 0, end: 0 };
  checkChunkRecordAt(buf, 0, file, at, span);
  return buf.slice(span.start, span.end);
}

/**
 * Bytes the chunk record at `buf[pos]` occupies (length varint, encoding byte, data, CRC), or -1 when
 * `buf` ends inside its length varint. `at` is the record's offset in `file`, for errors.
 */
export function chunkRecordSize(buf: Uint8Array, pos: number, file: string, at: number): number {
  let len = 0;
  let mul = 1;
  for (let i = 0; i < MAX_UVARINT32; i++) {
    if (pos + i >= buf.length) return -1;
    const b = buf[pos + i]!;
    len += (b & 0x7f) * mul;
    if (b < 0x80) return i + 1 + 1 + len + 4;
    mul *= 128;
  }
  throw new BlockFormatError(file, at, 'chunk length: varint longer than 5 bytes');
}

/**
 * Checks the chunk record at `buf[pos]` like `chunkRecord`, copying nothing: sets `span` to where its
 * encoding byte and the end of its data lie in `buf` (a caller's object, so nothing is allocated per
 * chunk). `at` is the record's offset in `file`, for errors.
 */
export function checkChunkRecordAt(buf: Uint8Array, pos: number, file: string, at: number, span: { start: number; end: number }): void {
  // Positions in a buffer fit 31 bits; as small integers they keep the CRC loop on integer indexes (a
  // position computed from a 64-bit chunk ref arrives as a double, and the loop would then run on doubles).
  pos |= 0;
  const size = chunkRecordSize(buf, pos, file, at);
  if (size < 0) throw new BlockFormatError(file, at, 'chunk length: bad varint');
  const dataEnd = pos + size - 4;
  if (dataEnd + 4 > buf.length) {
    const len = size - 4 - 1 - varintBytes(buf, pos);
    throw new BlockFormatError(file, at, `chunk of ${len} bytes runs past the end of the segment (${buf.length - pos} bytes available)`);
  }
  const start = pos + varintBytes(buf, pos);
  const want = ((buf[dataEnd]! << 24) | (buf[dataEnd + 1]! << 16) | (buf[dataEnd + 2]! << 8) | buf[dataEnd + 3]!) >>> 0;
  const got = crc32c(buf, 0, start, dataEnd);
  if (want !== got) {
    throw new BlockFormatError(file, at, `chunk checksum mismatch (stored ${want.toString(16)}, computed ${got.toString(16)})`);
  }
  span.start = start;
  span.end = dataEnd;
}

/** Bytes of the (terminated) uvarint at `buf[pos]`. */
function varintBytes(buf: Uint8Array, pos: number): number {
  let i = 0;
  while (buf[pos + i]! >= 0x80) i++;
  return i + 1;
}
