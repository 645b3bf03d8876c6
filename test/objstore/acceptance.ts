/**
 * The one acceptance suite every `Bucket` passes (memory, filesystem, S3 against a real radosgw): the
 * semantics documented in src/objstore/bucket.ts. Each test works under its own key prefix, so one bucket
 * serves the whole suite and tests never see each other's objects.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test, type TestContext } from 'node:test';
import { compareBytes, isNotFound, type Bucket } from '../../src/objstore/index.js';

export interface AcceptanceTarget {
  /** The bucket under test, or null when the test must skip (the target has already called t.skip). */
  bucket(t: TestContext): Bucket | null;
  /** Size of the large `putFile` case (default 12 MiB; S3 targets lower their multipart threshold below it). */
  largeFileBytes?: number;
  /** Extra checks after the large putFile, e.g. that S3 really went multipart. */
  afterLargePutFile?(bucket: Bucket): void;
  /** Allowed difference between the local clock and the store's lastModified (default 2 s; S3 has 1 s resolution). */
  clockSlackMs?: number;
}

const MiB = 1 << 20;
let seq = 0;

/** A fresh key prefix per test (and per run, for stores that outlive a run). */
function prefix(): string {
  return `acc-${process.pid}-${Date.now().toString(36)}-${seq++}/`;
}

/** Deterministic pseudo-random bytes (xorshift32), fast enough for tens of MiB. */
function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed | 1;
  let i = 0;
  const words = new Uint32Array(out.buffer, 0, n >>> 2);
  for (; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  for (let j = i * 4; j < n; j++) out[j] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return out;
}

function same(a: Uint8Array, b: Uint8Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  assert.ok(Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length)), `${what}: bytes differ`);
}

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const k of it) out.push(k);
  return out;
}

async function rejectsNotFound(p: Promise<unknown>, key: string, what: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isNotFound(err), `${what}: want ObjectNotFoundError, got ${String(err)}`);
    assert.ok((err as Error).message.includes(key), `${what}: message names the key: ${(err as Error).message}`);
    return true;
  });
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

export function bucketAcceptance(name: string, target: AcceptanceTarget): void {
  const slack = target.clockSlackMs ?? 2000;
  const scratch = mkdtempSync(join(tmpdir(), 'argus-bucket-acceptance-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  describe(`bucket acceptance: ${name}`, () => {
    test('put/get round trip: every byte value, an empty object, a 20 MiB object', async (t) => {
      const b = target.bucket(t);
      if (b === null) return;
      const p = prefix();
      const all = Uint8Array.from({ length: 512 }, (_, i) => i & 0xff);
      await b.put(p + 'binary', all);
      same(await b.get(p + 'binary'), all, 'binary');
      await b.put(p + 'empty', new Uint8Array(0));
      same(await b.get(p + 'empty'), new Uint8Array(0), 'empty');
      assert.equal((await b.attributes(p + 'empty')).size, 0);
      const big = bytes(20 * MiB + 3, 7);
      const t0 = performance.now();
      await b.put(p + 'big', big);
      const t1 = performance.now();
      same(await b.get(p + 'big'), big, '20 MiB');
      t.diagnostic(`20 MiB: put ${Math.round(t1 - t0)} ms, get ${Math.round(performance.now() - t1)} ms`);
      // The caller's buffer is not kept: changing it after put does not change the object.
      all[0] = 99;
      assert.equal((await b.get(p + 'binary'))[0], 0);
    });

    test('put overwrites the whole object', async (t) => {
      const b = target.bucket(t);
      if (b === null) return;
      const k = prefix() + 'obj';
      await b.put(k, bytes(1000, 1));
      const small = bytes(10, 2);
      await b.put(k, small);
      same(await b.get(k), small, 'after overwrite');
      assert.equal((await b.attributes(k)).size, 10);
    });

    test('getRange: start, middle, end, past the end, zero length', async (t) => {
      const b = target.bucket(t);
      if (b === null) return;
      const p = prefix();
      const body = bytes(1000, 3);
      await b.put(p + 'r', body);
      const cases: [number, number, Uint8Array][] = [
        [0, 10, body.subarray(0, 10)],
        [500, 100, body.subarray(500, 600)],
        [990, 10, body.subarray(990)],
        [995, 100, body.subarray(995)], // runs past the end: what exists
        [0, 1000, body],
        [0, 5000, body],
        [999, 1, body.subarray(999)],
        [1000, 10, new Uint8Array(0)], // starts at the end
        [5000, 1, new Uint8Array(0)], // starts past the end
        [10, 0, new Uint8Array(0)], // zero length
        [2000, 0, new Uint8Array(0)],
      ];
      for (const [off, len, want] of cases) same(await b.getRange(p + 'r', off, len), want, `getRange(${off}, ${len})`);
      await b.put(p + 'empty', new Uint8Array(0));
      same(await b.getRange(p + 'empty', 0, 10), new Uint8Array(0), 'range of an empty object');
      same(await b.getRange(p + 'empty', 0, 0), new Uint8Array(0), 'zero range of an empty object');
      await assert.rejects(b.getRange(p + 'r', -1, 10), /range/i);
      await assert.rejects(b.getRange(p + 'r', 0, -1), /range/i);
    });

    test('exists and attributes: size and lastModified', async (t) => {
      const b = target.bucket(t);
      if (b === null) return;
      const p = prefix();
      assert.equal(await b.exists(p + 'x'), false);
      const before = Date.now();
      await b.put(p + 'x', bytes(1234, 4));
      const afterPut = Date.now();
      assert.equal(await b.exists(p + 'x'), true);
      const a = await b.attributes(p + 'x');
      assert.equal(a.size, 1234);
      assert.ok(a.lastModified >= before - slack && a.lastModified <= afterPut + slack, `lastModified ${a.lastModified} not within [${before}, ${afterPut}] ± ${slack} ms`);
      // A "directory" is not an object.
      await b.put(p + 'dir/y', bytes(1, 5));
      assert.equal(await b.exists(p + 'dir'), false);
      await rejectsNotFound(b.attributes(p + 'dir'), p + 'dir', 'attributes of a directory');
    });

    test('missing objects: get, getRange and attributes reject with ObjectNotFoundError', async (t) => {
      const b = target.bucket(t);
      if (b === null) return;
      const k = prefix() + 'nope/missing';
      await rejectsNotFound(b.get(k), k, 'get');
      await rejectsNotFound(b.getRange(k, 0, 10), k, 'getRange');
      await rejectsNotFound(b.getRange(k, 0, 0), k, 'zero getRange');
      await rejectsNotFound(b.getRange(k, 100, 10), k, 'getRange past the end');
      await rejectsNotFound(b.attributes(k), k, 'attributes');
    });

    test('delete removes the object and is idempotent', async (t) => {
      const b = target.bucket(t);
      if (b === null) return;
      const p = prefix();
      await b.put(p + 'a/b/c', bytes(10, 6));
      await b.put(p + 'keep', bytes(10, 7));
      await b.delete(p + 'a/b/c');
      assert.equal(await b.exists(p + 'a/b/c'), false);
      await rejectsNotFound(b.get(p + 'a/b/c'), p + 'a/b/c', 'get after delete');
      await b.delete(p + 'a/b/c');
      await b.delete(p + 'never/was');
      // No empty "directories" are left behind to list.
      assert.deepEqual(await collect(b.iter(p)), [p + 'keep']);
      assert.deepEqual(await collect(b.iter(p, { recursive: true })), [p + 'keep']);
    });

    test('iter: one level versus recursive, nested prefixes', async (t) => {
      const b = target.bucket(t);
      if (b === null) return;
      const p = prefix();
      const keys = ['a', 'b/c', 'b/d/e', 'b/d/f', 'c/x', 'ca', 'cb/z/z/z'].map((k) => p + k);
      await Promise.all(keys.map((k, i) => b.put(k, bytes(i + 1, i))));
      assert.deepEqual(await collect(b.iter(p)), [p + 'a', p + 'b/', p + 'c/', p + 'ca', p + 'cb/']);
      assert.deepEqual(await collect(b.iter(p, { recursive: true })), [...keys].sort(compareBytes));
      assert.deepEqual(await collect(b.iter(p + 'b/')), [p + 'b/c', p + 'b/d/']);
      assert.deepEqual(await collect(b.iter(p + 'b/', { recursive: true })), [p + 'b/c', p + 'b/d/e', p + 'b/d/f']);
      assert.deepEqual(await collect(b.iter(p + 'b/d/')), [p + 'b/d/e', p + 'b/d/f']);
      // A prefix that is not a whole "directory" filters names.
      assert.deepEqual(await collect(b.iter(p + 'c')), [p + 'c/', p + 'ca', p + 'cb/']);
      assert.deepEqual(await collect(b.iter(p + 'c', { recursive: true })), [p + 'c/x', p + 'ca', p + 'cb/z/z/z']);
      assert.deepEqual(await collect(b.iter(p + 'nothing/')), []);
      assert.deepEqual(await collect(b.iter(p + 'a/')), [], 'an object is not a directory');
      // The root lists this test's prefix as a directory.
      const root = await collect(b.iter(''));
      assert.ok(root.includes(p), `root listing holds ${p}`);
      assert.deepEqual(root, [...root].sort(compareBytes), 'root listing in byte order');
    });

    test('iter yields keys in byte order (not UTF-16 order)', async (t) => {
      const b = target.bucket(t);
      if (b === null) return;
      const p = prefix();
      // '-' < '/' < '0' in bytes; U+FF21 sorts before U+1F600 in UTF-8 but after it in UTF-16.
      const names = ['a-b', 'a/x', 'a0', 'Z', 'é', '\uFF21', '\u{1F600}', 'a/\u{1F600}', 'a/\uFF21', 'a.b'];
      await Promise.all(names.map((n, i) => b.put(p + n, bytes(3, i))));
      const want = names.map((n) => p + n).sort(compareBytes);
      assert.notDeepEqual(want, names.map((n) => p + n).sort(), 'the case distinguishes byte and UTF-16 order');
      assert.deepEqual(await collect(b.iter(p, { recursive: true })), want);
      const level = [...new Set(names.map((n) => p + (n.includes('/') ? n.slice(0, n.indexOf('/') + 1) : n)))].sort(compareBytes);
      assert.deepEqual(await collect(b.iter(p)), level);
    });

    test('more than 1000 keys are all listed, in order (S3 pages at 1000)', async (t) => {
      const b = target.bucket(t);
      if (b === null) return;
      const p = prefix();
      const keys = Array.from({ length: 1100 }, (_, i) => `${p}k${String(i).padStart(4, '0')}`);
      const t0 = performance.now();
      await pool(keys, 32, (k) => b.put(k, new Uint8Array([k.length & 0xff])));
      await b.put(p + 'sub/x', new Uint8Array([1]));
      const t1 = performance.now();
      const rec = await collect(b.iter(p, { recursive: true }));
      assert.equal(rec.length, 1101);
      assert.deepEqual(rec, [...keys, p + 'sub/x']);
      const level = await collect(b.iter(p));
      assert.deepEqual(level, [...keys, p + 'sub/']);
      t.diagnostic(`1101 puts ${Math.round(t1 - t0)} ms, two listings ${Math.round(performance.now() - t1)} ms`);
    });

    test('putFile uploads a local file, small and large', async (t) => {
      const b = target.bucket(t);
      if (b === null) return;
      const p = prefix();
      const small = bytes(3000, 8);
      const smallPath = join(scratch, `small-${seq}`);
      writeFileSync(smallPath, small);
      await b.putFile(p + 'small', smallPath);
      same(await b.get(p + 'small'), small, 'small file');
      const n = target.largeFileBytes ?? 12 * MiB;
      const large = bytes(n + 17, 9); // not a multiple of any part size
      const largePath = join(scratch, `large-${seq}`);
      writeFileSync(largePath, large);
      const t0 = performance.now();
      await b.putFile(p + 'large', largePath);
      t.diagnostic(`putFile ${((n + 17) / MiB).toFixed(1)} MiB: ${Math.round(performance.now() - t0)} ms`);
      assert.equal((await b.attributes(p + 'large')).size, large.length);
      same(await b.get(p + 'large'), large, 'large file');
      same(await b.getRange(p + 'large', n - 5, 100), large.subarray(n - 5), 'tail of the large file');
      target.afterLargePutFile?.(b);
      rmSync(largePath);
      const missing = join(scratch, 'does-not-exist');
      await assert.rejects(b.putFile(p + 'x', missing), (err: Error) => err.message.includes(missing));
      assert.equal(await b.exists(p + 'x'), false);
    });

    test('concurrent puts of one key end in one whole value; readers never see a mix', async (t) => {
      const b = target.bucket(t);
      if (b === null) return;
      const k = prefix() + 'contended';
      const size = 256 * 1024;
      const bodies = Array.from({ length: 8 }, (_, i) => new Uint8Array(size).fill(i + 1));
      await b.put(k, new Uint8Array(size).fill(100));
      const whole = (got: Uint8Array, what: string): void => {
        assert.equal(got.length, size, `${what}: length`);
        const v = got[0]!;
        assert.ok(v === 100 || (v >= 1 && v <= 8), `${what}: value ${v}`);
        assert.ok(got.every((x) => x === v), `${what}: a mix of values`);
      };
      for (let round = 0; round < 3; round++) {
        let writing = true;
        const readers = Array.from({ length: 2 }, async () => {
          let reads = 0;
          while (writing && reads < 50) {
            whole(await b.get(k), `read during round ${round}`);
            reads++;
          }
        });
        await Promise.all(bodies.map((body) => b.put(k, body)));
        writing = false;
        await Promise.all(readers);
        const final = await b.get(k);
        whole(final, `after round ${round}`);
        assert.notEqual(final[0], 100, 'one of the concurrent puts won');
      }
      // The winner's object holds no leftovers from a temp file or a partial write.
      assert.deepEqual(await collect(b.iter(k.slice(0, k.lastIndexOf('/') + 1), { recursive: true })), [k]);
    });

    test('invalid keys are rejected with a clear error', async (t) => {
      const b = target.bucket(t);
      if (b === null) return;
      const p = prefix();
      for (const bad of ['', '/abs', p + 'a//b', p + '../b', './a', p + '.', p + 'a/..', p + 'dir/']) {
        await assert.rejects(b.put(bad, new Uint8Array(1)), /invalid object key/, `put(${JSON.stringify(bad)})`);
      }
      assert.deepEqual(await collect(b.iter(p, { recursive: true })), []);
    });
  });
}
