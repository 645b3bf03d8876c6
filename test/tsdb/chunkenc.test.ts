import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';

import { STALE_NAN } from '../../src/model/value.js';
import { ENCODING_XOR, MAX_SAMPLES_PER_CHUNK, XorChunk, XorIterator } from '../../src/tsdb/chunkenc/index.js';

// ---------------------------------------------------------------------------------------------------------
// helpers

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

function bitsOf(v: number): bigint {
  f64[0] = v;
  return (BigInt(u32[1]!) << 32n) | BigInt(u32[0]!);
}
function fromBits(b: bigint): number {
  u32[0] = Number(b & 0xffffffffn);
  u32[1] = Number(b >> 32n);
  return f64[0]!;
}
function hexBits(v: number): string {
  return '0x' + bitsOf(v).toString(16).padStart(16, '0');
}

/**
 * Values in these tests live in Float64Arrays: V8 quiets signalling NaNs (such as the stale marker) that
 * are stored in plain JS arrays of doubles, so a `number[]` would corrupt the very bits under test.
 * `floats` takes numbers or, for exact NaN payloads, bigint bit patterns.
 */
function floats(list: ReadonlyArray<number | bigint>): Float64Array {
  const out = new Float64Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const x = list[i]!;
    out[i] = typeof x === 'bigint' ? fromBits(x) : x;
  }
  return out;
}
function floatsOf(n: number, fn: (i: number) => number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = fn(i);
  return out;
}

const STALE_BITS = 0x7ff0000000000002n;

/** Go's math.NaN(), which is what Prometheus's parsers produce for "NaN". */
const GO_NAN = fromBits(0x7ff8000000000001n);

function encode(ts: readonly number[], vs: ArrayLike<number>): XorChunk {
  const c = new XorChunk();
  const app = c.appender();
  for (let i = 0; i < ts.length; i++) app.append(ts[i]!, vs[i]!);
  return c;
}

function decode(bytes: Uint8Array, it = new XorIterator()): { ts: number[]; vs: Float64Array; err: string | null } {
  it.reset(bytes);
  const ts: number[] = [];
  const vs = new Float64Array(bytes.length >= 2 ? (bytes[0]! << 8) | bytes[1]! : 0);
  while (it.next() !== 0) {
    vs[ts.length] = it.atF();
    ts.push(it.atT());
  }
  return { ts, vs: vs.subarray(0, ts.length), err: it.err() };
}

function assertSamples(gotT: number[], gotV: ArrayLike<number>, ts: readonly number[], vs: ArrayLike<number>, what = ''): void {
  assert.equal(gotT.length, ts.length, `${what}: sample count`);
  for (let i = 0; i < ts.length; i++) {
    assert.ok(Object.is(gotT[i], ts[i]), `${what}: t[${i}] = ${gotT[i]}, want ${ts[i]}`);
    assert.equal(hexBits(gotV[i]!), hexBits(vs[i]!), `${what}: v[${i}] bits (t=${ts[i]})`);
  }
}

/**
 * An independent encoder written straight from chunks.md with BigInt and a string of '0'/'1', used as the
 * oracle for the bit-twiddling on 32-bit halves. `quirkWindow` starts with a 0/0 window instead of none,
 * which is what a Prometheus appender resumed on a chunk without any value window does.
 */
function refEncode(ts: readonly number[], vs: ArrayLike<number>, quirkWindow = false): Uint8Array {
  let bits = '';
  const put = (x: bigint, n: number): void => {
    bits += BigInt.asUintN(n, x).toString(2).padStart(n, '0');
  };
  const uvarint = (x: bigint): void => {
    x = BigInt.asUintN(64, x);
    while (x >= 0x80n) {
      put((x & 0x7fn) | 0x80n, 8);
      x >>= 7n;
    }
    put(x, 8);
  };
  const inRange = (x: bigint, n: number): boolean => -((1n << BigInt(n - 1)) - 1n) <= x && x <= 1n << BigInt(n - 1);
  let prevT = 0n;
  let prevD = 0n;
  let prevV = 0n;
  let lead = quirkWindow ? 0 : -1;
  let trail = 0;
  for (let i = 0; i < ts.length; i++) {
    const t = BigInt(ts[i]!);
    const v = bitsOf(vs[i]!);
    if (i === 0) {
      uvarint(t >= 0n ? t << 1n : (-t << 1n) - 1n);
      put(v, 64);
    } else {
      const d = t - prevT;
      if (i === 1) uvarint(d);
      else {
        const dod = d - prevD;
        if (dod === 0n) put(0n, 1);
        else if (inRange(dod, 14)) (put(0b10n, 2), put(dod, 14));
        else if (inRange(dod, 17)) (put(0b110n, 3), put(dod, 17));
        else if (inRange(dod, 20)) (put(0b1110n, 4), put(dod, 20));
        else (put(0b1111n, 4), put(dod, 64));
      }
      prevD = d;
      const x = v ^ prevV;
      if (x === 0n) put(0n, 1);
      else {
        put(1n, 1);
        let l = 64 - x.toString(2).length;
        let tr = 0;
        while (((x >> BigInt(tr)) & 1n) === 0n) tr++;
        if (l > 31) l = 31;
        if (lead !== -1 && l >= lead && tr >= trail) {
          put(0n, 1);
          put(x >> BigInt(trail), 64 - lead - trail);
        } else {
          lead = l;
          trail = tr;
          put(1n, 1);
          put(BigInt(l), 5);
          put(BigInt(64 - l - tr), 6);
          put(x >> BigInt(tr), 64 - l - tr);
        }
      }
    }
    prevT = t;
    prevV = v;
  }
  while (bits.length % 8 !== 0) bits += '0';
  const out = new Uint8Array(2 + bits.length / 8);
  out[0] = ts.length >> 8;
  out[1] = ts.length & 0xff;
  for (let i = 0; i < bits.length / 8; i++) out[2 + i] = parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  return out;
}

/** Full check: decode equals input, bytes equal the oracle, wrapping and resuming at `splits` gives the same bytes. */
function roundTrip(ts: readonly number[], values: ArrayLike<number>, splits: readonly number[] = [], what = ''): XorChunk {
  const vs = floatsOf(values.length, (i) => values[i]!);
  const c = encode(ts, vs);
  assert.equal(c.numSamples(), ts.length, `${what}: numSamples`);
  const bytes = c.bytes();
  assert.deepEqual(bytes, refEncode(ts, vs), `${what}: bytes differ from the reference encoder`);
  const d = decode(bytes);
  assert.equal(d.err, null, `${what}: ${d.err}`);
  assertSamples(d.ts, d.vs, ts, vs, what);
  // Wrapped bytes decode the same through the chunk API.
  const d2 = decode(new XorChunk(bytes.slice()).bytes());
  assertSamples(d2.ts, d2.vs, ts, vs, `${what} (wrapped)`);
  for (const k of splits) {
    if (k < 0 || k > ts.length) continue;
    const first = encode(ts.slice(0, k), vs.slice(0, k)).bytes().slice();
    const resumed = new XorChunk(first);
    const app = resumed.appender();
    for (let i = k; i < ts.length; i++) app.append(ts[i]!, vs[i]!);
    assert.deepEqual(resumed.bytes(), bytes, `${what}: resumed after ${k} samples differs`);
    assert.deepEqual(first, encode(ts.slice(0, k), vs.slice(0, k)).bytes(), `${what}: resuming modified the wrapped bytes`);
  }
  return c;
}

function regular(n: number, start = 1_700_000_000_000, step = 15_000): number[] {
  return Array.from({ length: n }, (_, i) => start + i * step);
}

/** Deterministic PRNG so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------------------
// round trips

describe('XorChunk round trip', () => {
  test('empty chunk', () => {
    const c = new XorChunk();
    assert.equal(c.numSamples(), 0);
    assert.deepEqual(c.bytes(), new Uint8Array([0, 0]));
    const d = decode(c.bytes());
    assert.equal(d.ts.length, 0);
    assert.equal(d.err, null);
    assert.equal(ENCODING_XOR, 1);
  });

  test('1, 2 and 120 samples', () => {
    roundTrip([1000], [1.5], [0, 1], '1 sample');
    roundTrip([1000, 16000], [1.5, 2.5], [0, 1, 2], '2 samples');
    const r = rng(1);
    let v = 0;
    const vs = regular(120).map(() => (v += Math.floor(r() * 100)));
    roundTrip(regular(120), vs, [0, 1, 2, 3, 60, 119, 120], '120 samples');
  });

  test('constant values', () => {
    roundTrip(regular(120), new Array(120).fill(42), [1, 2, 50], 'constant 42');
    roundTrip(regular(120), new Array(120).fill(0), [1, 50], 'constant 0');
    const c = encode(regular(120), new Array(120).fill(42));
    // header, varint(t0), v0, uvarint(15000), then 1 bit for v1 and 2 bits (dod 0, xor 0) per sample.
    assert.equal(c.bytes().length, 2 + 6 + 8 + 2 + Math.ceil((1 + 118 * 2) / 8));
  });

  test('counters and gauges with jitter', () => {
    const r = rng(2);
    const ts: number[] = [];
    let t = 1_700_000_000_123;
    for (let i = 0; i < 120; i++) {
      ts.push(t);
      t += 15_000 + Math.floor(r() * 21) - 10;
    }
    let c = 0;
    roundTrip(ts, ts.map(() => (c += Math.floor(r() * 1000))), [2, 77], 'integer counter');
    let fc2 = 0;
    roundTrip(ts, ts.map(() => (fc2 += r() * 3.3)), [2, 77], 'float counter');
    roundTrip(ts, ts.map(() => 1e9 + Math.floor(r() * 1e6) * 4096), [5], 'memory gauge');
    roundTrip(ts, ts.map(() => r()), [5], 'random floats');
    roundTrip(ts, ts.map(() => (r() - 0.5) * 1e300), [5], 'huge floats');
    roundTrip(ts, ts.map(() => (r() - 0.5) * 1e-300), [5], 'tiny floats');
  });

  test('special values keep their bits', () => {
    const odd = floats([
      Infinity,
      -Infinity,
      NaN,
      STALE_BITS,
      0x7ff8000000000001n, // Go's NaN
      0xfff8000000000000n,
      0x7ff4000000000abcn, // signalling NaN with a payload
      0xffffffffffffffffn,
      -0,
      0,
      Number.MIN_VALUE,
      -Number.MAX_VALUE,
      Number.MAX_VALUE,
      1,
      STALE_BITS,
      STALE_BITS,
      -0,
      5,
    ]);
    assert.equal(hexBits(odd[3]!), '0x7ff0000000000002', 'test setup keeps the stale marker');
    assert.equal(hexBits(STALE_NAN), '0x7ff0000000000002');
    const ts = regular(odd.length);
    roundTrip(ts, odd, [1, 2, 3, 4, 9], 'special values');
    const d = decode(encode(ts, odd).bytes());
    f64[0] = d.vs[3]!;
    assert.equal(u32[1], 0x7ff00000);
    assert.equal(u32[0], 0x00000002);
    // Every value starting a chunk, and every pair of transitions.
    for (let i = 0; i < odd.length; i++) {
      for (let j = 0; j < odd.length; j++) roundTrip([0, 1, 2], floatsOf(3, (k) => odd[k === 1 ? j : i]!), [1, 2], `pair ${i},${j}`);
    }
  });

  test('large and negative timestamps', () => {
    const max = Number.MAX_SAFE_INTEGER;
    roundTrip([max], [1], [0], 'max safe t');
    roundTrip([-max], [1], [0], 'min safe t');
    roundTrip([0], [1], [0], 't = 0');
    roundTrip([-1, 0, 1], [1, 2, 3], [1, 2], 'around zero');
    roundTrip([-5_000_000, -4_985_000, -4_970_000, -4_955_001], [1, 2, 3, 4], [1, 2, 3], 'negative');
    const big = 2 ** 51;
    roundTrip([-big, -big + 1, big - 1, big - 2, -big + 7], [1, 2, 3, 4, 5], [1, 2, 3, 4], 'jumps of 2^52 - 2');
    roundTrip([max - 100, max - 50, max], [1, 2, 3], [1, 2], 'near max');
    roundTrip([-max, -max + 50, -max + 60], [1, 2, 3], [1, 2], 'near min');
    // A first delta that is negative is a 10-byte uvarint, as Go writes uint64(t1 - t0).
    roundTrip([1_000_000, 999_000, 998_000, 1_000_000], [1, 2, 3, 4], [1, 2, 3], 'decreasing');
    for (const t0 of [0, 63, 64, -64, -65, 8191, 8192, 2 ** 31 - 1, 2 ** 31, 2 ** 32, -(2 ** 32), 2 ** 35 + 3]) {
      roundTrip([t0, t0 + 127, t0 + 255], [1, 1, 1], [1, 2], `varint boundary ${t0}`);
    }
  });

  test('every delta-of-delta bucket and its boundaries', () => {
    // [dod, bits the dod takes in the stream]
    const cases: Array<[number, number]> = [
      [0, 1],
      [1, 16],
      [-1, 16],
      [8192, 16],
      [-8191, 16],
      [8193, 20],
      [-8192, 20],
      [65536, 20],
      [-65535, 20],
      [65537, 24],
      [-65536, 24],
      [524288, 24],
      [-524287, 24],
      [524289, 68],
      [-524288, 68],
      [2 ** 40, 68],
      [-(2 ** 40) - 12345, 68],
      [2 ** 51, 68],
      [-(2 ** 51) + 3, 68],
    ];
    for (const [dod, dodBits] of cases) {
      const t0 = 10_000_000_000;
      const d1 = 2 ** 50; // keeps t2 positive whatever dod is
      const ts = [t0, t0 + d1, t0 + d1 + d1 + dod];
      const c = roundTrip(ts, [7, 7, 7], [1, 2], `dod ${dod}`);
      const headerAndFirst = 2 + 5 + 8; // varint(t0) is 5 bytes
      const delta = 8; // uvarint(2^50) is 8 bytes
      assert.equal(c.bytes().length, headerAndFirst + delta + Math.ceil((1 + dodBits + 1) / 8), `size for dod ${dod}`);
      assert.equal(c.w.bitLen, (headerAndFirst + delta) * 8 + 1 + dodBits + 1, `bits for dod ${dod}`);
    }
    // Mixed irregular deltas through all buckets in one chunk.
    const r = rng(3);
    const ts = [1_700_000_000_000];
    const mags = [0, 1, 8192, 8193, 65536, 65537, 524288, 524289, 3_600_000];
    let d = 15_000;
    for (let i = 0; i < 119; i++) {
      const m = mags[Math.floor(r() * mags.length)]!;
      const dod = r() < 0.5 ? m : -m;
      if (d + dod > 0) d += dod;
      ts.push(ts[ts.length - 1]! + d);
    }
    roundTrip(ts, ts.map((_, i) => i * 0.25), [2, 3, 60], 'irregular');
  });

  test('value XOR windows: reuse, widening, 64 significant bits, leading clamp', () => {
    const vs = [
      fromBits(0n),
      fromBits(1n), // leading 63 -> clamped to 31
      fromBits(3n), // fits the window
      fromBits(0x8000000000000000n), // needs a new window
      fromBits(0x8000000000000001n), // 64 significant bits (encoded as 0)
      fromBits(0xffffffffffffffffn),
      fromBits(0x00000000ffffffffn),
      fromBits(0x00000001ffffffffn),
      fromBits(0x0000000100000000n),
      fromBits(0x0000000080000000n),
      fromBits(0x00000000c0000000n),
      fromBits(0x4000000000000000n),
    ];
    roundTrip(regular(vs.length), vs, [1, 2, 3, 4, 5, 6, 7, 8], 'windows');
    // Single bits at every position, after and between each other.
    const r = rng(4);
    const single: number[] = [];
    for (let i = 0; i < 200; i++) single.push(fromBits(1n << BigInt(Math.floor(r() * 64))));
    roundTrip(regular(200), single, [1, 100], 'single bits');
  });

  test('reads a reused window before any window was set (Prometheus resumed appender)', () => {
    const ts = regular(6);
    const vs = [3, 3, 3, 4.5, 4.75, 4.75];
    const quirky = refEncode(ts, vs, true);
    assert.notDeepEqual(quirky, refEncode(ts, vs));
    const d = decode(quirky);
    assert.equal(d.err, null);
    assertSamples(d.ts, d.vs, ts, vs, 'quirky');
    // And appending to it continues from its window state.
    const c = new XorChunk(quirky);
    c.appender().append(ts[5]! + 15_000, 9);
    const d2 = decode(c.bytes());
    assertSamples(d2.ts, d2.vs, [...ts, ts[5]! + 15_000], [...vs, 9], 'quirky resumed');
  });

  test('fast-check: random sample sequences round trip and match the reference encoder', () => {
    const value = fc.oneof(
      // Generated as bit patterns, so no NaN passes through a JS array on the way.
      fc.double().map(bitsOf),
      fc.integer({ min: -1e6, max: 1e6 }).map(bitsOf),
      fc.constantFrom(STALE_BITS, bitsOf(NaN), bitsOf(Infinity), bitsOf(-Infinity), bitsOf(-0), 0n),
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    );
    const delta = fc.oneof(
      fc.constant(15_000),
      fc.integer({ min: 14_990, max: 15_010 }),
      fc.integer({ min: -600_000, max: 600_000 }),
      fc.integer({ min: -(2 ** 45), max: 2 ** 45 }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: -(2 ** 50), max: 2 ** 50 }),
        fc.array(fc.tuple(delta, value), { minLength: 1, maxLength: 300 }),
        fc.nat(),
        (t0, samples, split) => {
          const ts: number[] = [];
          let t = t0;
          for (const [d] of samples) {
            ts.push(t);
            t += d;
          }
          const vs = floats(samples.map(([, b]) => b));
          roundTrip(ts, vs, [split % (ts.length + 1)], 'property');
        },
      ),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// appender and iterator API

describe('XorAppender', () => {
  test('capacity is 65535 samples', () => {
    const c = new XorChunk();
    const app = c.appender();
    for (let i = 0; i < MAX_SAMPLES_PER_CHUNK; i++) app.append(i * 1000, i % 7);
    assert.equal(c.numSamples(), 65535);
    assert.throws(() => app.append(1e9, 1), RangeError);
    assert.equal(c.numSamples(), 65535);
    const d = decode(c.bytes());
    assert.equal(d.err, null);
    assert.equal(d.ts.length, 65535);
    assert.equal(d.ts[65534], 65534 * 1000);
    assert.equal(d.vs[65534], 65534 % 7);
  });

  test('rejects timestamps it cannot encode exactly', () => {
    const c = new XorChunk();
    const app = c.appender();
    assert.throws(() => app.append(1.5, 1), RangeError);
    assert.throws(() => app.append(NaN, 1), RangeError);
    assert.throws(() => app.append(2 ** 53, 1), RangeError);
    app.append(-(2 ** 52), 1);
    assert.throws(() => app.append(2 ** 52, 1), RangeError); // delta of 2^53
    app.append(-1, 1); // delta of 2^52 - 1
    assert.deepEqual(decode(c.bytes()).ts, [-(2 ** 52), -1]);
  });

  test('a wrapped chunk hands back the same bytes, and appender() can be called again', () => {
    const b = encode(regular(5), regular(5)).bytes().slice();
    const c = new XorChunk(b);
    assert.equal(c.bytes(), b);
    assert.equal(c.numSamples(), 5);
    c.appender().append(regular(6)[5]!, 6);
    assert.equal(b[1], 5, 'the wrapped bytes are not modified');
    const a2 = c.appender(); // replays the 6 samples
    a2.append(regular(7)[6]!, 7);
    a2.append(regular(8)[7]!, 8);
    assert.deepEqual(c.bytes(), encode(regular(8), [...regular(5), 6, 7, 8]).bytes());
  });

  test('resuming an empty wrapped chunk and a chunk with trailing garbage bits', () => {
    const c = new XorChunk(new Uint8Array([0, 0]));
    c.appender().append(5, 6);
    assert.deepEqual(c.bytes(), encode([5], [6]).bytes());
    // Non-zero padding bits in the last byte are cleared before appending after them.
    const base = encode([1000, 2000, 3000], [1, 2, 3]).bytes().slice();
    const dirty = base.slice();
    const bitLen = encode([1000, 2000, 3000], [1, 2, 3]).w.bitLen;
    if (bitLen % 8 !== 0) dirty[dirty.length - 1]! |= 0xff >>> (bitLen % 8);
    assert.deepEqual(decode(dirty).ts, [1000, 2000, 3000]);
    const r = new XorChunk(dirty);
    r.appender().append(4000, 4);
    assert.deepEqual(r.bytes(), encode([1000, 2000, 3000, 4000], [1, 2, 3, 4]).bytes());
  });

  test('appending to a corrupt chunk throws', () => {
    const bytes = encode(regular(10), regular(10)).bytes().slice(0, 12);
    assert.throws(() => new XorChunk(bytes).appender(), /cannot append to xor chunk/);
    assert.throws(() => new XorChunk(new Uint8Array(1)), RangeError);
  });

  test('bytes() is a view over the written length, and grows', () => {
    const c = new XorChunk();
    const app = c.appender();
    const r = rng(5);
    const ts: number[] = [];
    const vs: number[] = [];
    for (let i = 0; i < 2000; i++) {
      ts.push(i * 15_000 + Math.floor(r() * 5000));
      vs.push(r());
      app.append(ts[i]!, vs[i]!);
      if (i % 97 === 0) assert.deepEqual(c.bytes(), refEncode(ts, vs));
    }
    const b = c.bytes();
    assert.ok(b.buffer.byteLength >= b.length);
    assert.deepEqual(b, refEncode(ts, vs));
  });

  test('an iterator taken mid-append sees a consistent snapshot', () => {
    const c = new XorChunk();
    const app = c.appender();
    const ts = regular(300);
    for (let i = 0; i < 100; i++) app.append(ts[i]!, i * 1.5);
    const it = c.iterator();
    assert.equal(it.next(), 1);
    for (let i = 100; i < 300; i++) app.append(ts[i]!, i * 1.5); // grows and reallocates the buffer
    let n = 1;
    while (it.next() !== 0) {
      assert.equal(it.atT(), ts[n]);
      assert.equal(it.atF(), n * 1.5);
      n++;
    }
    assert.equal(n, 100);
    assert.equal(it.err(), null);
    assert.equal(decode(c.bytes()).ts.length, 300);
  });
});

describe('XorIterator', () => {
  const ts = [1000, 2000, 3000, 5000, 8000];
  const vs = [1, 2, 3, 4, 5];
  const bytes = encode(ts, vs).bytes();

  test('seek finds the first sample at or after t and never moves backwards', () => {
    const it = new XorChunk(bytes).iterator();
    assert.equal(it.seek(0), 1);
    assert.equal(it.atT(), 1000);
    assert.equal(it.seek(2500), 1);
    assert.equal(it.atT(), 3000);
    assert.equal(it.seek(1000), 1); // behind: stays
    assert.equal(it.atT(), 3000);
    assert.equal(it.seek(3000), 1);
    assert.equal(it.atT(), 3000);
    assert.equal(it.next(), 1);
    assert.equal(it.atT(), 5000);
    assert.equal(it.seek(8000), 1);
    assert.equal(it.atF(), 5);
    assert.equal(it.seek(8001), 0);
    assert.equal(it.next(), 0);
    assert.equal(it.seek(0), 0);
    assert.equal(it.err(), null);
  });

  test('seek on a fresh iterator and next after exhaustion', () => {
    const it = new XorIterator(bytes);
    assert.equal(it.seek(9000), 0);
    assert.equal(it.next(), 0);
    const it2 = new XorIterator(bytes);
    for (let i = 0; i < 5; i++) assert.equal(it2.next(), 1);
    assert.equal(it2.next(), 0);
    assert.equal(it2.next(), 0);
  });

  test('reuse via chunk.iterator(it) and reset', () => {
    const other = encode([7, 8], floatsOf(2, (i) => (i === 0 ? STALE_NAN : 0)));
    const it = new XorChunk(bytes).iterator();
    it.next();
    it.next();
    const same = other.iterator(it);
    assert.equal(same, it);
    assert.equal(it.next(), 1);
    assert.equal(it.atT(), 7);
    assert.equal(hexBits(it.atF()), hexBits(STALE_NAN));
    it.reset(bytes);
    const d = decode(bytes, it);
    assertSamples(d.ts, d.vs, ts, vs, 'after reset');
    // A longer chunk followed by a shorter one: leftovers of the first must not leak into the second.
    const long = encode(regular(120), regular(120)).bytes();
    decode(long, it);
    const d2 = decode(new Uint8Array([0, 1, 2]), it);
    assert.equal(d2.ts.length, 0);
    assert.notEqual(d2.err, null);
  });

  test('truncated chunks end iteration with err(), never throw', () => {
    const r = rng(6);
    const n = 120;
    const full = encode(
      regular(n).map((t) => t + Math.floor(r() * 100_000)).sort((a, b) => a - b),
      floatsOf(n, () => (r() < 0.2 ? STALE_NAN : r() * 100)),
    ).bytes();
    const want = decode(full);
    for (let len = 0; len < full.length; len++) {
      const d = decode(full.subarray(0, len));
      assert.notEqual(d.err, null, `truncated to ${len} bytes: no error`);
      assert.ok(d.ts.length < n);
      assertSamples(d.ts, d.vs, want.ts.slice(0, d.ts.length), want.vs.slice(0, d.ts.length), `prefix at ${len}`);
    }
    // A header that claims more samples than the data holds.
    const lying = full.slice();
    lying[0] = 0xff;
    const d = decode(lying);
    assert.equal(d.ts.length, n);
    assert.match(d.err ?? '', /truncated/);
  });

  test('fast-check: arbitrary bytes never throw or hang', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), (b) => {
        const it = new XorIterator();
        it.reset(b);
        let n = 0;
        while (it.next() !== 0) n++;
        assert.ok(n <= 0xffff);
        assert.ok(b.length < 2 || n === ((b[0]! << 8) | b[1]!) || it.err() !== null);
        it.reset(b);
        it.seek(0);
      }),
      { numRuns: 2000 },
    );
    // Corrupt a valid chunk at random positions.
    const good = encode(regular(120), regular(120).map((t) => t / 7)).bytes();
    fc.assert(
      fc.property(fc.nat(), fc.nat({ max: 255 }), (pos, byte) => {
        const b = good.slice();
        b[pos % b.length] = byte;
        const it = new XorIterator(b);
        while (it.next() !== 0) {
          /* drain */
        }
      }),
      { numRuns: 2000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// byte compatibility with Prometheus (promtool writes a block, we read its chunk segment)

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();
function crc32c(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC32C_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Prometheus's chunk segment magic (tsdb/docs/format/chunks.md). */
const CHUNKS_MAGIC = 0x85bd40dd;

interface Series {
  name: string;
  ts: number[];
  vs: Float64Array;
}

/** Formats ms as OpenMetrics seconds, choosing only timestamps Prometheus will read back exactly. */
function exactMs(ms: number): number {
  while (Number((ms / 1000).toFixed(3)) * 1000 !== ms) ms++;
  return ms;
}
function fmtValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Object.is(v, -0)) return '-0';
  return String(v);
}

function buildSeries(): Series[] {
  const r = rng(7);
  // Inside one 2h block range so that promtool writes a single block (more are handled anyway).
  const base = Math.floor(1_700_000_000_000 / 7_200_000) * 7_200_000 + 60_000;
  const series: Series[] = [];
  const make = (name: string, n: number, nextDelta: (i: number) => number, value: (i: number) => number, offset: number): void => {
    const ts: number[] = [];
    const vs = new Float64Array(n);
    let t = base + offset;
    for (let i = 0; i < n; i++) {
      t = exactMs(t);
      ts.push(t);
      const v = value(i);
      // Prometheus's parser yields Go's NaN bits for "NaN".
      vs[i] = Number.isNaN(v) ? GO_NAN : v;
      t += nextDelta(i);
    }
    series.push({ name, ts, vs });
  };
  let counter = 0;
  make('argus_counter_total', 110, () => 15_000 + Math.floor(r() * 41) - 20, () => (counter += Math.floor(r() * 500)), 17);
  let fcount = 0;
  make('argus_float_counter_total', 100, () => 15_000 + Math.floor(r() * 7) - 3, () => (fcount += r() * 12.5), 331);
  make('argus_gauge', 90, () => 15_000, () => Math.round(r() * 1e6) / 100, 503);
  make('argus_constant', 119, () => 15_000, () => 1, 701);
  const specials = [NaN, Infinity, -Infinity, -0, 0, 1e308, 5e-324, -2.5, 3, 3, NaN, 1, Infinity, 0.1, 1e-10];
  make('argus_specials', 45, () => 10_000 + Math.floor(r() * 3) * 1000, (i) => specials[i % specials.length]!, 905);
  // Deltas chosen so that the delta-of-deltas walk through every bucket and its edges.
  const deltas = [15_000, 15_000, 23_192, 15_001, 23_194, 15_000, 80_536, 15_001, 80_537, 15_000, 539_288, 15_001, 539_289, 15_000, 1_215_000, 15_000, 1, 2, 8_194];
  make('argus_irregular', deltas.length + 1, (i) => deltas[i] ?? 15_000, (i) => i * 1.25, 1103);
  // Longer than one chunk: promtool's head cuts it; we match chunks wherever it cut.
  let g = 50;
  make('argus_long', 330, () => 15_000, () => (g += r() - 0.5), 1301);
  return series;
}

/** The series and index where exactly these samples (t and value bits) appear in a row. */
function findRun(series: Series[], ts: number[], vs: ArrayLike<number>): [Series, number] | undefined {
  for (const s of series) {
    outer: for (let from = 0; from + ts.length <= s.ts.length; from++) {
      for (let i = 0; i < ts.length; i++) {
        if (s.ts[from + i] !== ts[i] || hexBits(s.vs[from + i]!) !== hexBits(vs[i]!)) continue outer;
      }
      return [s, from];
    }
  }
  return undefined;
}

function readUvarint(b: Uint8Array, off: number): [number, number] {
  let x = 0;
  let mul = 1;
  for (;;) {
    const byte = b[off++]!;
    x += (byte & 0x7f) * mul;
    if (byte < 0x80) return [x, off];
    mul *= 128;
  }
}

describe('Prometheus compatibility', () => {
  test('chunks written by promtool decode exactly and re-encode byte for byte', (t) => {
    const version = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
    if (version.error !== undefined || version.status !== 0) {
      const why = `promtool not installed: ${version.error?.message ?? version.stderr}`;
      if (process.env.CI === 'true') assert.fail(`promtool is missing in CI (${why}); .ci/run should install it`);
      console.warn(`\n!!!! SKIPPING Prometheus byte-compatibility test: ${why} !!!!\n`);
      t.skip(why);
      return;
    }
    const series = buildSeries();
    let text = '';
    for (const s of series) {
      // OpenMetrics declares a counter family without its _total suffix.
      const counter = s.name.endsWith('_total');
      text += `# TYPE ${counter ? s.name.slice(0, -6) : s.name} ${counter ? 'counter' : 'gauge'}\n`;
      for (let i = 0; i < s.ts.length; i++) text += `${s.name} ${fmtValue(s.vs[i]!)} ${(s.ts[i]! / 1000).toFixed(3)}\n`;
    }
    text += '# EOF\n';

    const dir = mkdtempSync(join(tmpdir(), 'argus-chunkenc-'));
    try {
      const input = join(dir, 'input.om');
      const out = join(dir, 'blocks');
      writeFileSync(input, text);
      const res = spawnSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', input, out], { encoding: 'utf8' });
      assert.equal(res.status, 0, `promtool failed: ${res.stdout}\n${res.stderr}`);

      const covered = series.map((s) => new Array<boolean>(s.ts.length).fill(false));
      let chunks = 0;
      let samples = 0;
      const blocks = readdirSync(out).filter((d) => existsSync(join(out, d, 'meta.json')));
      assert.ok(blocks.length >= 1, 'promtool wrote no block');
      for (const block of blocks) {
        const meta = JSON.parse(readFileSync(join(out, block, 'meta.json'), 'utf8')) as { stats: { numSamples: number; numChunks: number } };
        let blockChunks = 0;
        for (const seg of readdirSync(join(out, block, 'chunks')).sort()) {
          const file = new Uint8Array(readFileSync(join(out, block, 'chunks', seg)));
          const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
          assert.equal(view.getUint32(0), CHUNKS_MAGIC, 'segment magic');
          assert.equal(file[4], 1, 'segment version');
          assert.deepEqual([...file.subarray(5, 8)], [0, 0, 0], 'segment padding');
          let off = 8;
          while (off < file.length) {
            const [len, dataOff] = readUvarint(file, off);
            const encoding = file[dataOff]!;
            const data = file.subarray(dataOff + 1, dataOff + 1 + len);
            const crc = view.getUint32(dataOff + 1 + len);
            assert.equal(crc, crc32c(file.subarray(dataOff, dataOff + 1 + len)), `crc of chunk at ${off}`);
            assert.equal(encoding, ENCODING_XOR, 'chunk encoding');
            off = dataOff + 1 + len + 4;
            blockChunks++;

            // (a) our iterator decodes Prometheus's bytes (used in place, as a view into the file).
            const chunk = new XorChunk(data);
            const d = decode(chunk.bytes());
            assert.equal(d.err, null);
            assert.equal(d.ts.length, chunk.numSamples());
            const found = findRun(series, d.ts, d.vs);
            assert.ok(found, `chunk starting at ${d.ts[0]} (${d.ts.length} samples) matches no run of any series`);
            const [s, from] = found;
            const wantT = s.ts.slice(from, from + d.ts.length);
            const wantV = s.vs.slice(from, from + d.ts.length);
            for (let i = from; i < from + d.ts.length; i++) {
              assert.equal(covered[series.indexOf(s)]![i], false, `${s.name} sample ${i} in two chunks`);
              covered[series.indexOf(s)]![i] = true;
            }
            samples += d.ts.length;

            // (b) encoding the same samples gives the same bytes.
            assert.deepEqual(encode(wantT, wantV).bytes(), data, `${s.name} chunk at ${from}: bytes differ from Prometheus`);
          }
        }
        chunks += blockChunks;
        assert.equal(blockChunks, meta.stats.numChunks, `${block}: chunk count vs meta.json`);
      }
      for (let i = 0; i < series.length; i++) {
        assert.ok(covered[i]!.every(Boolean), `${series[i]!.name}: not every sample was found in a chunk`);
      }
      assert.equal(samples, series.reduce((n, s) => n + s.ts.length, 0));
      assert.ok(chunks > series.length, 'expected promtool to cut the long series');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
