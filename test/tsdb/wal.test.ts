import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wal } from '../../src/tsdb/wal/index.js';

const made: string[] = [];
after(() => Promise.all(made.map((d) => rm(d, { recursive: true, force: true }))));

async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'argus-wal-'));
  made.push(d);
  return d;
}

function rec(i: number, size = 16): Uint8Array {
  const b = new Uint8Array(size);
  b.fill(i & 0xff);
  new DataView(b.buffer).setUint32(0, i, true);
  return b;
}

async function replay(dir: string, opts = {}) {
  const got: number[] = [];
  const { wal, report } = await Wal.open(dir, (r) => got.push(new DataView(r.buffer, r.byteOffset).getUint32(0, true)), opts);
  return { wal, report, got };
}

test('records written are replayed in order after reopen', async () => {
  const dir = await tmp();
  const { wal } = await replay(dir);
  for (let i = 0; i < 50; i++) await wal.log([rec(i)]);
  await wal.close();
  const { wal: w2, got, report } = await replay(dir);
  assert.deepEqual(got, [...Array(50).keys()]);
  assert.equal(report.truncated, null);
  await w2.log([rec(50)]);
  await w2.close();
  const third = await replay(dir);
  assert.equal(third.got.length, 51);
  await third.wal.close();
});

test('concurrent log() calls share fsyncs (group commit) and all resolve', async () => {
  const dir = await tmp();
  const { wal } = await replay(dir);
  await Promise.all([...Array(200).keys()].map((i) => wal.log([rec(i, 1000)])));
  assert.ok(wal.fsyncs < 200, `expected fewer fsyncs than writes, got ${wal.fsyncs}`);
  assert.ok(wal.fsyncs >= 1);
  await wal.close();
  const { got } = await replay(dir);
  assert.equal(got.length, 200);
  assert.deepEqual([...got].sort((a, b) => a - b), [...Array(200).keys()]);
});

test('a torn tail at any byte offset is truncated and reported, never fatal', async () => {
  const dir = await tmp();
  const { wal } = await replay(dir);
  for (let i = 0; i < 10; i++) await wal.log([rec(i, 24)]);
  await wal.close();
  const seg = join(dir, '00000000');
  const full = await readFile(seg);
  const recSize = 8 + 24;
  for (let cut = full.length - 1; cut > 0; cut -= 7) {
    await writeFile(seg, full.subarray(0, cut));
    const { wal: w, got, report } = await replay(dir);
    await w.close();
    const whole = Math.floor(cut / recSize);
    assert.deepEqual(got, [...Array(whole).keys()], `cut at ${cut}`);
    if (cut % recSize !== 0) {
      assert.ok(report.truncated, `cut at ${cut} should be reported`);
      assert.equal((await stat(seg)).size, whole * recSize);
    }
  }
});

test('a corrupt record stops replay there and removes later segments', async () => {
  const dir = await tmp();
  const { wal } = await replay(dir, { segmentBytes: 200 });
  for (let i = 0; i < 30; i++) await wal.log([rec(i, 24)]);
  await wal.close();
  const segs = (await readdir(dir)).sort();
  assert.ok(segs.length > 3, `expected several segments, got ${segs.length}`);
  const second = join(dir, segs[1]!);
  const data = await readFile(second);
  data[8 + 30] ^= 0xff; // flip a payload byte of the second record
  await writeFile(second, data);
  const { wal: w, got, report } = await replay(dir, { segmentBytes: 200 });
  await w.close();
  assert.ok(report.truncated);
  assert.equal(report.truncated!.reason, 'checksum mismatch');
  assert.ok(report.truncated!.removedSegments.length >= 1);
  const perSeg = Math.floor(200 / 32);
  assert.deepEqual(got, [...Array(perSeg + 1).keys()]);
  assert.deepEqual((await readdir(dir)).sort(), segs.slice(0, 2));
});

test('an empty or zero-filled tail (preallocated file) is cut', async () => {
  const dir = await tmp();
  const { wal } = await replay(dir);
  await wal.log([rec(1)]);
  await wal.close();
  const seg = join(dir, '00000000');
  const data = await readFile(seg);
  await writeFile(seg, Buffer.concat([data, Buffer.alloc(100)]));
  const { wal: w, got, report } = await replay(dir);
  await w.close();
  assert.deepEqual(got, [1]);
  assert.ok(report.truncated);
  await truncate(seg, 0);
});

test('periodic sync policy: log() resolves after the write; fdatasync runs on the interval, at rotation and at close', async () => {
  const dir = await tmp();
  await assert.rejects(Wal.open(dir, () => undefined, { syncIntervalMs: -1 }), RangeError);
  await assert.rejects(Wal.open(dir, () => undefined, { syncIntervalMs: Number.NaN }), /syncIntervalMs must be a finite number >= 0, got NaN/);
  const { wal } = await replay(dir, { syncIntervalMs: 50, segmentBytes: 4096 });
  for (let i = 0; i < 20; i++) {
    await wal.log([rec(i, 100)]);
    // Readers may read up to here: it is the end of whole records, and the file holds them.
    const pos = wal.committedPosition();
    const size = (await stat(join(dir, String(pos.segment).padStart(8, '0')))).size;
    assert.equal(pos.offset, size);
  }
  assert.equal(wal.fsyncs, 0, 'no fdatasync per log() under the periodic policy');
  // 20 x 108 bytes in 4 KiB segments: no rotation yet.
  const deadline = Date.now() + 3000;
  while (wal.fsyncs === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(wal.fsyncs, 1, 'one periodic fdatasync covers every write before it');
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(wal.fsyncs, 1, 'nothing new written: no further fdatasync');
  for (let i = 20; i < 60; i++) await wal.log([rec(i, 100)]);
  assert.ok(wal.committedPosition().segment >= 1, 'rotated');
  await wal.close();
  const { got, wal: w2 } = await replay(dir);
  assert.deepEqual(got, [...Array(60).keys()]);
  await w2.close();
});

test('SamplesRecordDecoder: reused columns decode every record like decodeSamplesRecord, as records grow and shrink', async () => {
  const { SamplesRecordDecoder, decodeSamplesRecord, encodeSamplesRecord } = await import('../../src/tsdb/wal/records.js');
  const dec = new SamplesRecordDecoder();
  for (const n of [3, 1000, 10, 0, 2500, 2500, 7]) {
    const refs = Uint32Array.from({ length: n }, (_, i) => 1 + i * 3);
    const ts = Float64Array.from({ length: n }, (_, i) => 1_700_000_000_000 + i);
    const vs = Float64Array.from({ length: n }, (_, i) => (i % 5 === 0 ? NaN : i / 7));
    const rec = encodeSamplesRecord(refs, ts, vs, n);
    const got = dec.decode(rec);
    const want = decodeSamplesRecord(rec);
    assert.equal(got.refs.length, n);
    assert.deepEqual([...got.refs], [...want.refs]);
    assert.deepEqual([...got.ts], [...want.ts]);
    assert.deepEqual(Buffer.from(got.vs.buffer, got.vs.byteOffset, n * 8), Buffer.from(want.vs.buffer, want.vs.byteOffset, n * 8));
  }
});
