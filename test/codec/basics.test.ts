import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compressSync } from 'snappy';
import {
  DecodeError,
  Reader,
  Writer,
  crc32c,
  readUvarint,
  snappyCompress,
  snappyUncompress,
  uvarintSize,
  writeUvarint,
  writeVarint64,
  VARINT_OVERFLOW,
  VARINT_TRUNCATED,
} from '../../src/codec/index.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));

describe('varint', () => {
  it('writes and reads unsigned values across the 32-bit boundary and up to 2^53', () => {
    const buf = new Uint8Array(10);
    for (const v of [0, 1, 127, 128, 300, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 1_700_000_000_000, 2 ** 53 - 1]) {
      const end = writeUvarint(buf, 0, v);
      assert.equal(end, uvarintSize(v), `size of ${v}`);
      assert.deepEqual(readUvarint(buf, 0, end), [v, end]);
    }
    assert.equal(hex(buf.subarray(0, writeUvarint(buf, 0, 300))), 'ac02');
  });

  it('writes int64 negatives as ten-byte two’s complement', () => {
    const buf = new Uint8Array(10);
    assert.equal(hex(buf.subarray(0, writeVarint64(buf, 0, -1))), 'ffffffffffffffffff01');
    assert.equal(hex(buf.subarray(0, writeVarint64(buf, 0, -5))), 'fbffffffffffffffff01');
    for (const v of [-1, -5, -128, -(2 ** 31), -(2 ** 32) - 7, -1_700_000_000_000, -(2 ** 53) + 1]) {
      writeVarint64(buf, 0, v);
      const r = new Reader(buf);
      assert.equal(r.int64(10, 'x'), v);
      assert.equal(r.pos, 10);
    }
  });

  it('reports truncation and overflow', () => {
    assert.equal(readUvarint(bytes('8080'), 0)[1], VARINT_TRUNCATED);
    assert.equal(readUvarint(bytes('ffffffffffffffffff02'), 0)[1], VARINT_OVERFLOW);
    assert.equal(readUvarint(bytes('ffffffffffffffffff8001'), 0)[1], VARINT_OVERFLOW);
    assert.throws(() => new Reader(bytes('ffffffffffffffffff8001')).int64(11, 'f'), /f: varint longer than 10 bytes at offset 0/);
    assert.throws(() => new Reader(bytes('ff')).int64(1, 'f'), /f: truncated varint at offset 0/);
    assert.throws(() => new Reader(bytes('ffff')).int64(1, 'f'), /truncated varint/, 'bounded by end, not the buffer');
  });
});

describe('Reader', () => {
  it('skips every wire type, including nested groups', () => {
    // field 1 varint, field 2 i64, field 3 len, field 4 i32, field 5 group { field 1 varint }, then field 6 varint 7
    const b = bytes('0801 11 0102030405060708 1a03616263 25 01020304 2b 0805 2c 3007');
    const r = new Reader(b);
    for (let i = 0; i < 5; i++) r.skip(r.tag(b.length, 'x'), b.length, 'x');
    assert.equal(r.tag(b.length, 'x'), 0x30);
    assert.equal(r.uint32(b.length, 'x'), 7);
    assert.equal(r.pos, b.length);
  });

  it('rejects bad groups, bad wire types and field number 0', () => {
    const skipAll = (h: string): void => {
      const b = bytes(h);
      const r = new Reader(b);
      while (r.pos < b.length) r.skip(r.tag(b.length, 'x'), b.length, 'x');
    };
    assert.throws(() => skipAll('0b 0801'), /unterminated group 1/);
    assert.throws(() => skipAll('0b 14'), /end-group 2 does not match start-group 1/);
    assert.throws(() => skipAll('0c'), /unexpected end-group/);
    assert.throws(() => skipAll('0e'), /invalid wire type 6/);
    assert.throws(() => skipAll('0001'), /field number 0/);
    assert.throws(() => skipAll('0a05 6162'), /length 5 exceeds the 2 bytes left at offset 1/);
    assert.throws(() => skipAll('0b'.repeat(100)), /groups nested too deeply/);
  });
});

describe('Writer', () => {
  it('patches nested lengths that need more than one byte', () => {
    const w = new Writer(4);
    w.tag(1, 2);
    const s = w.fork();
    w.tag(1, 2);
    w.string('x'.repeat(200));
    w.join(s);
    const out = w.finish();
    const r = new Reader(out);
    assert.equal(r.tag(out.length, 'x'), 0x0a);
    const e = r.lenEnd(out.length, 'x');
    assert.equal(e, out.length);
    assert.equal(r.tag(e, 'x'), 0x0a);
    assert.equal(r.lenEnd(e, 'x') - r.pos, 200);
  });

  it('writes non-ASCII strings as UTF-8', () => {
    const w = new Writer();
    w.string('é☃😀');
    assert.equal(hex(w.finish()), '09' + hex(new TextEncoder().encode('é☃😀')));
  });
});

describe('crc32c', () => {
  it('matches the standard check values', () => {
    assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(0)), 0);
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
    assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  });

  it('continues across calls and honours start/end', () => {
    const data = new Uint8Array(1000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 0xff;
    const whole = crc32c(data);
    for (const cut of [0, 1, 7, 8, 9, 500, 999, 1000]) {
      assert.equal(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut))), whole, `cut ${cut}`);
      assert.equal(crc32c(data, crc32c(data, 0, 0, cut), cut), whole, `range cut ${cut}`);
    }
  });
});

describe('snappy', () => {
  it('round-trips', () => {
    const data = new TextEncoder().encode('hello hello hello hello '.repeat(100));
    const c = snappyCompress(data);
    assert.ok(c.length < data.length);
    assert.equal(hex(snappyUncompress(c, data.length)), hex(data));
    assert.equal(snappyUncompress(snappyCompress(new Uint8Array(0)), 0).length, 0);
  });

  it('refuses a declared size over the limit before decompressing', () => {
    // A 6-byte body claiming 2^32-1 bytes: refused from the preamble alone.
    assert.throws(
      () => snappyUncompress(bytes('ffffffff0f00'), 1 << 20),
      (e: unknown) => e instanceof DecodeError && /decompressed size 4294967295 exceeds limit 1048576/.test(e.message),
    );
    const c = compressSync(Buffer.alloc(1000));
    assert.throws(() => snappyUncompress(c, 999), /decompressed size 1000 exceeds limit 999/);
  });

  it('turns corrupt input into DecodeError', () => {
    const c = compressSync(Buffer.from('some text that compresses some text that compresses'));
    for (const bad of [new Uint8Array(0), bytes('80'), bytes('ffffffffff7f'), c.subarray(0, c.length - 3), bytes('0a 0000')]) {
      assert.throws(() => snappyUncompress(bad, 1 << 20), DecodeError, hex(bad));
    }
  });
});
