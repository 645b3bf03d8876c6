/**
 * Property test: random sequences of puts and deletes applied to a filesystem bucket and to the in-memory
 * bucket (the model) leave them indistinguishable through every read: get, getRange at random offsets,
 * exists, and listings one level and recursive at prefixes that cut names in the middle.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { FilesystemBucket, MemoryBucket, type Bucket } from '../../src/objstore/index.js';

const root = mkdtempSync(join(tmpdir(), 'argus-bucket-model-'));
after(() => rmSync(root, { recursive: true, force: true }));

// Directory and leaf names never coincide (a filesystem cannot hold both `a` and `a/x`); they include
// names whose byte order and UTF-16 order differ and names around '/' in byte order.
const DIRS = ['a', 'a-b', '\uFF21', 'z0'];
const LEAVES = ['f', 'f-1', 'f0', 'é', '\u{1F600}', 'g.json'];

const key = fc
  .tuple(fc.array(fc.constantFrom(...DIRS), { maxLength: 3 }), fc.constantFrom(...LEAVES))
  .map(([dirs, leaf]) => [...dirs, leaf].join('/'));

type Op = { kind: 'put'; key: string; size: number; fill: number } | { kind: 'delete'; key: string };
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('put' as const), key, size: fc.integer({ min: 0, max: 300 }), fill: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), key }) },
);

async function list(b: Bucket, prefix: string, recursive: boolean): Promise<string[]> {
  const out: string[] = [];
  for await (const k of b.iter(prefix, { recursive })) out.push(k);
  return out;
}

let run = 0;
test('filesystem bucket behaves like the in-memory model (property)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 10 }), fc.array(fc.tuple(fc.nat(400), fc.nat(400)), { minLength: 3, maxLength: 3 }), async (ops, ranges) => {
      const fsb = new FilesystemBucket(join(root, `run-${run++}`));
      const mem = new MemoryBucket();
      for (const o of ops) {
        if (o.kind === 'put') {
          const body = new Uint8Array(o.size).map((_, i) => (o.fill + i) & 0xff);
          await fsb.put(o.key, body);
          await mem.put(o.key, body);
        } else {
          await fsb.delete(o.key);
          await mem.delete(o.key);
        }
      }
      const all = await list(mem, '', true);
      assert.deepEqual(await list(fsb, '', true), all);
      const prefixes = new Set<string>(['', 'a', 'a/', 'a-', 'a-b/', '\uFF21/', 'z', 'a/a/', 'f', 'nope/']);
      for (const k of all) for (let i = 1; i <= k.length; i++) prefixes.add(k.slice(0, i));
      for (const p of prefixes) {
        if (p.endsWith('//') || p.includes('/.')) continue;
        for (const rec of [false, true]) assert.deepEqual(await list(fsb, p, rec), await list(mem, p, rec), `iter(${JSON.stringify(p)}, recursive=${rec})`);
      }
      for (const k of new Set([...all, ...ops.map((o) => o.key)])) {
        assert.equal(await fsb.exists(k), await mem.exists(k), `exists ${k}`);
        if (!(await mem.exists(k))) continue;
        assert.deepEqual(await fsb.get(k), await mem.get(k));
        for (const [off, len] of ranges) assert.deepEqual(await fsb.getRange(k, off, len), await mem.getRange(k, off, len), `getRange(${k}, ${off}, ${len})`);
        assert.equal((await fsb.attributes(k)).size, (await mem.attributes(k)).size);
      }
      rmSync(fsb.root, { recursive: true, force: true });
    }),
    { numRuns: 25 },
  );
});
