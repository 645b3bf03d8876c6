/**
 * Byte-level helpers shared by the block files: a growable big-endian/varint encoder, a bounds-checked
 * decoder whose errors name the file and offset, a buffered file sink, and UTF-8 string ordering.
 */
import type { FileHandle } from 'node:fs/promises';
import { readUvarint, writeUvarint } from '../../codec/varint.js';
import { crc32c } from '../../codec/crc32c.js';

/** A block file that does not follow the format; `file` and `offset` say where. */
export class BlockFormatError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    message: string,
  ) {
    super(`${file}: at offset ${offset}: ${message}`);
    this.name = 'BlockFormatError';
  }
}

const utf8Encoder = new TextEncoder();
// Not fatal: Prometheus does not validate UTF-8 either, and a bad byte must not make a block unreadable.
const utf8Decoder = new TextDecoder('utf-8');

export function utf8(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}

export function decodeUtf8(b: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 32) {
    // Short ASCII strings (most label names and values) are cheaper to build by hand than via TextDecoder.
    let ascii = true;
    for (let i = start; i < end; i++) {
      if (b[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return String.fromCharCode.apply(null, b.subarray(start, end) as unknown as number[]);
  }
  return utf8Decoder.decode(b.subarray(start, end));
}

/**
 * Compares strings by their UTF-8 bytes, which is Go's string order and therefore the order of symbols,
 * postings and series in an index. JavaScript's `<` compares UTF-16 code units, which differs only when a
 * surrogate (a code point above U+FFFF) meets a code unit in U+E000–U+FFFF.
 */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** Label sets in index order: pairwise by UTF-8 name, then value; shorter first. */
export function compareLabelsUtf8(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareUtf8(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** Growable output buffer. */
export class ByteWriter {
  buf: Uint8Array;
  len = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
  }

  reset(): void {
    this.len = 0;
  }

  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v;
  }

  be32(v: number): void {
    this.ensure(4);
    const b = this.buf;
    const p = this.len;
    b[p] = v >>> 24;
    b[p + 1] = v >>> 16;
    b[p + 2] = v >>> 8;
    b[p + 3] = v;
    this.len = p + 4;
  }

  be64(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`be64: ${v} is not a non-negative safe integer`);
    this.be32(Math.floor(v / 0x100000000));
    this.be32(v >>> 0);
  }

  uvarint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`uvarint: ${v} is not a non-negative safe integer`);
    this.ensure(10);
    this.len = writeUvarint(this.buf, this.len, v);
  }

  /** Signed varint with zigzag encoding (Go's binary.PutVarint). */
  varint(v: number): void {
    if (!Number.isSafeInteger(v) || Math.abs(v) >= 2 ** 52) throw new RangeError(`varint: ${v} is out of range`);
    this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** A length-prefixed string (uvarint length, UTF-8 bytes). */
  str(b: Uint8Array): void {
    this.uvarint(b.length);
    this.bytes(b);
  }

  /** Appends CRC-32C of `[from, len)` as 4 big-endian bytes. */
  crcFrom(from: number): void {
    this.be32(crc32c(this.buf, 0, from, this.len));
  }

  view(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

/** Reads within `[pos, end)` of `buf`; every read past `end` throws a BlockFormatError. */
export class Decoder {
  pos: number;
  end: number;

  constructor(
    readonly buf: Uint8Array,
    readonly file: string,
    pos = 0,
    end = buf.length,
  ) {
    this.pos = pos;
    this.end = end;
  }

  fail(msg: string, at: number = this.pos): never {
    throw new BlockFormatError(this.file, at, msg);
  }

  remaining(): number {
    return this.end - this.pos;
  }

  need(n: number, what: string): void {
    if (n > this.end - this.pos) this.fail(`${what}: need ${n} bytes, ${this.end - this.pos} left`);
  }

  u8(what = 'byte'): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  be32(what = 'uint32'): number {
    this.need(4, what);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }

  be64(what = 'uint64'): number {
    const at = this.pos;
    const hi = this.be32(what);
    const lo = this.be32(what);
    if (hi > 0x1fffff) this.fail(`${what}: ${hi} * 2^32 + ${lo} is too large`, at);
    return hi * 0x100000000 + lo;
  }

  uvarint(what = 'uvarint'): number {
    const at = this.pos;
    const [v, next] = readUvarint(this.buf, this.pos, this.end);
    if (next < 0) this.fail(`${what}: ${next === -1 ? 'truncated' : 'overflowing'} varint`, at);
    if (v > Number.MAX_SAFE_INTEGER) this.fail(`${what}: ${v} is too large`, at);
    this.pos = next;
    return v;
  }

  varint(what = 'varint'): number {
    const u = this.uvarint(what);
    // Zigzag: even values are non-negative.
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }

  /**
   * A zigzag varint of any int64: values beyond 2^53 (Prometheus's MinInt64/MaxInt64 "everything"
   * bounds) come back as -Infinity/Infinity instead of failing.
   */
  varintUnbounded(what = 'varint'): number {
    const at = this.pos;
    const first = this.pos < this.end ? this.buf[this.pos]! : 0;
    const [u, next] = readUvarint(this.buf, this.pos, this.end);
    if (next < 0) this.fail(`${what}: ${next === -1 ? 'truncated' : 'overflowing'} varint`, at);
    this.pos = next;
    if (u <= Number.MAX_SAFE_INTEGER) return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
    return (first & 1) === 1 ? -Infinity : Infinity;
  }

  skip(n: number, what: string): void {
    this.need(n, what);
    this.pos += n;
  }

  /** A uvarint-length-prefixed UTF-8 string. */
  str(what = 'string'): string {
    const n = this.uvarint(`${what} length`);
    this.need(n, what);
    const s = decodeUtf8(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
}

/** Checks the big-endian CRC-32C stored at `crcAt` against `buf[start, crcAt)`. */
export function checkCrc(buf: Uint8Array, file: string, start: number, crcAt: number, what: string): void {
  if (crcAt + 4 > buf.length) throw new BlockFormatError(file, crcAt, `${what}: checksum past the end of the file`);
  const want = ((buf[crcAt]! << 24) | (buf[crcAt + 1]! << 16) | (buf[crcAt + 2]! << 8) | buf[crcAt + 3]!) >>> 0;
  const got = crc32c(buf, 0, start, crcAt);
  if (want !== got) {
    throw new BlockFormatError(file, start, `${what}: checksum mismatch (stored ${hex(want)}, computed ${hex(got)})`);
  }
}

function hex(v: number): string {
  return '0x' + v.toString(16).padStart(8, '0');
}

const SINK_BUFFER = 1 << 20;
const ZEROS = new Uint8Array(16);

/** Sequential buffered writes to a file handle, with the absolute position tracked for offsets. */
export class FileSink {
  private readonly buf = new Uint8Array(SINK_BUFFER);
  private used = 0;
  pos = 0;

  constructor(private readonly fh: FileHandle) {}

  async write(b: Uint8Array): Promise<void> {
    this.pos += b.length;
    if (this.used + b.length <= this.buf.length) {
      this.buf.set(b, this.used);
      this.used += b.length;
      return;
    }
    await this.flush();
    if (b.length >= this.buf.length) {
      await writeAll(this.fh, b);
      return;
    }
    this.buf.set(b, 0);
    this.used = b.length;
  }

  /** Zero bytes up to the next multiple of `align` (at most 16). */
  async pad(align: number): Promise<void> {
    const r = this.pos % align;
    if (r !== 0) await this.write(ZEROS.subarray(0, align - r));
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    await writeAll(this.fh, this.buf.subarray(0, this.used));
    this.used = 0;
  }
}

async function writeAll(fh: FileHandle, b: Uint8Array): Promise<void> {
  let off = 0;
  while (off < b.length) {
    const { bytesWritten } = await fh.write(b, off, b.length - off);
    off += bytesWritten;
  }
}
